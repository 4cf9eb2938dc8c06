"""Stage 3: the outbox, where every message waits as the exact bytes that will be sent."""
