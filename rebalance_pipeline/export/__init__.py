"""Export: the dated trade files of released trades, their manifest and the summary."""
