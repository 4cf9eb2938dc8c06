"""Stage 4: a named person's decision about a message: approve or reject, and what to know first."""
