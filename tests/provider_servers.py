"""SMTP servers on 127.0.0.1 scripted to answer as mail providers do, and a clock for the pace.

`ProviderHandler` throttles after N messages, refuses a connection beyond a number of open ones
(`432 4.3.2`, as Exchange Online does), answers `451 4.7.0` for a while, refuses at DATA with a
quota reply after N messages, or refuses every login. `FakeClock` is the send run's clock, moved
only by the run's own waits, so that no test waits or reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from mailer.sending.local_server import free_port, stop_when_settled
from tests.smtp_servers import RecordingHandler

# Exchange Online's answers to a mailbox over its limits.
TOO_MANY_CONNECTIONS = "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"
QUOTA_EXCEEDED = (
    "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
    "Failed to process message due to a permanent exception"
)
BUSY = "451 4.7.0 Temporary server error. Please try again later"
SLOW_DOWN = "421 4.7.0 Too many messages, slow down"
LOGIN_REFUSED = "535 5.7.3 Authentication unsuccessful"


class FakeClock:
    """Seconds since the epoch that move only when the run sleeps; every wait is kept."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds


@dataclass
class ProviderHandler(RecordingHandler):
    """A RecordingHandler with a provider's limits."""

    throttle_after: int | None = None  # after this many messages, answer DATA with `throttle`
    throttle_times: int = 10**9  # ... this many times, then accept again
    throttle: str = SLOW_DOWN
    quota_after: int | None = None  # after this many messages, DATA gets QUOTA_EXCEEDED
    max_open: int | None = None  # one more connection at the same time gets TOO_MANY_CONNECTIONS
    drop_at_mail: int | None = None  # cut the connection at this MAIL FROM (counted from 1)
    open_connections: int = 0
    refused_connections: int = 0
    throttled: int = 0

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.drop_at_mail is not None and self.mail_commands + 1 == self.drop_at_mail:
            self.mail_commands += 1
            server.transport.abort()  # as a provider's front end that restarts
            return "421 4.3.2 Service not available"
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        sent = len(self.arrivals)
        if self.quota_after is not None and sent >= self.quota_after:
            return QUOTA_EXCEEDED
        if (
            self.throttle_after is not None
            and sent >= self.throttle_after
            and self.throttled < self.throttle_times
        ):
            self.throttled += 1
            return self.throttle
        return await super().handle_DATA(server, session, envelope)


class LimitedSMTP(SMTP):
    """aiosmtpd's server, greeting a connection beyond the handler's `max_open` with `432`."""

    def connection_made(self, transport: Any) -> None:
        handler: ProviderHandler = self.event_handler
        handler.open_connections += 1
        self._limited = handler.max_open is not None and handler.open_connections > handler.max_open
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        handler: ProviderHandler = self.event_handler
        handler.open_connections -= 1
        super().connection_lost(error)

    async def push(self, status: str) -> None:
        if getattr(self, "_limited", False) and status.startswith("220 "):
            handler: ProviderHandler = self.event_handler
            handler.refused_connections += 1
            await super().push(TOO_MANY_CONNECTIONS)
            self.transport.close()  # type: ignore[union-attr]
            return
        await super().push(status)


def refuse_every_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    return AuthResult(success=False, handled=False, message=LOGIN_REFUSED)


class _LimitedController(Controller):
    def factory(self) -> SMTP:
        return LimitedSMTP(self.handler, **self.SMTP_kwargs)


@contextmanager
def provider_server(handler: ProviderHandler, **options: Any) -> Iterator[Controller]:
    """A running provider-like server on 127.0.0.1; `options` go to the Controller."""
    controller = _LimitedController(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        stop_when_settled(controller)
