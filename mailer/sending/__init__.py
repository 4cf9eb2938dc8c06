"""Stage 5: sending approved messages over SMTP, each at most once, every outcome recorded."""
