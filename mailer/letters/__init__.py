"""Stage 2: the invitation letter, from a validated record to the exact bytes of an e-mail.

`compose` is the way in: it returns a draft and knows nothing of the outbox.
"""
