"""Running the review page: a loopback socket, a secret token and uvicorn.

The socket is bound before the app is made, so the app knows its own port (for the Host and
Origin checks) and there is no moment in which another program could take the port.
"""

from __future__ import annotations

import errno
import html
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from mailer.config import Settings
from mailer.errors import MailerError
from mailer.i18n import _
from mailer.web.app import create_app
from mailer.web.security import TOKEN_LIFETIME, new_token
from mailer.workspace import Workspace

__all__ = ["LOOPBACK", "ReviewServer", "bind_loopback"]

LOOPBACK = "127.0.0.1"


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 only (`port` 0: any free port)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((LOOPBACK, port))
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise MailerError(
                _(
                    "port {port} is already in use; choose another with --port, or leave it out"
                ).format(port=port)
            ) from None
        raise MailerError(
            _("cannot listen on {address}:{port}: {reason}").format(
                address=LOOPBACK, port=port, reason=error.strerror
            )
        ) from None
    listener.listen(64)
    return listener


class ReviewServer:
    """The review page of one workspace on 127.0.0.1, reachable only with its token."""

    def __init__(
        self,
        workspace: Workspace,
        settings: Settings,
        port: int = 0,
        *,
        token_lifetime: float = TOKEN_LIFETIME,
    ) -> None:
        self.socket = bind_loopback(port)
        self.port: int = self.socket.getsockname()[1]
        self.token = new_token()
        app = create_app(
            workspace, settings, token=self.token, port=self.port, token_lifetime=token_lifetime
        )
        # No access log: the first request's address holds the token.
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", server_header=False
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open, with the token in it (as Jupyter prints it); it works once."""
        return f"{self.base_url}/?token={self.token}"

    def write_opener(self, folder: Path | None = None) -> Path:
        """A private HTML file (mode 0600) that sends a browser on to `url`.

        A browser is started with this file's name, not with `url`: a program's command line
        is readable by every user of the computer (`ps`), a file of one's own is not.
        """
        handle, name = tempfile.mkstemp(prefix="mailer-review-", suffix=".html", dir=folder)
        address = html.escape(self.url, quote=True)
        text = html.escape(_("Open the review page"))
        page = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            '<meta name="referrer" content="no-referrer">'
            f'<meta http-equiv="refresh" content="0;url={address}">'
            f"<title>{text}</title></head>"
            f'<body><p><a href="{address}">{text}</a></p></body></html>\n'
        )
        with os.fdopen(handle, "w", encoding="utf-8") as opener:
            opener.write(page)
        return Path(name)

    def run(self) -> None:
        """Serve until Ctrl+C (uvicorn stops gracefully on SIGINT and SIGTERM)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start_in_thread(self, timeout: float = 10) -> None:
        """Serve from a background thread (tests); return once it accepts connections."""
        self._thread = threading.Thread(target=self.run, name="mailer-review", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise MailerError(_("the review page did not start"))
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
