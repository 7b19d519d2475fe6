"""The daily report of a date for people: facts counted from the stored tables of every
stage (``facts``), plots (``charts``), one self-contained HTML page and its Markdown
(``page``), and the ``daily_report`` asset that writes it after the trade files."""
