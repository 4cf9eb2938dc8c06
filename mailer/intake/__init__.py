"""Stage 1: intake records and the files staff export them in (CSV, JSON), read and validated."""
