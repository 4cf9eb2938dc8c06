"""The review page of `mailer review`: the outbox in the browser, in Dutch, on 127.0.0.1 only.

`ReviewServer` runs it; `create_app` is the Starlette app itself (for tests and other servers).
"""

from mailer.web.app import create_app
from mailer.web.server import ReviewServer

__all__ = ["ReviewServer", "create_app"]
