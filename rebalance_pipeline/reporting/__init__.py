"""Rendering shared by every stage that writes for people or files: exact money and
quantity cells, dollars, the summary of a date."""
