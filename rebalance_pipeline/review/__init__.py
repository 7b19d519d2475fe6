"""Review: the queue a person edits, the attributed decision records, and what the
decisions settle (judged by the compliance rules); the stage after compliance."""
