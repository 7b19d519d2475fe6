"""Routing: one decision per account (route, reasons, review level) and the review queue."""
