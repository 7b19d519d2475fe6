"""Export: the dated trade files of released trades and their manifest, release or replay,
and the release ledger entry of every released batch."""
