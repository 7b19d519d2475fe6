"""The review screen: a date's queue in the browser, decided and released as
``rebalance review`` does."""
