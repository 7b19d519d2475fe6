"""Closed-loop policy simulation: the real stages run day after day over a generated book,
each day's released trades filled at the next day's price and fed back as lots,
transactions and cash, once per policy variant on the same prices and cash flows."""
