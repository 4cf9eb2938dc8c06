"""One SMTP transaction for one stored message, and what its outcome means for the outbox.

MAIL, RCPT and DATA are sent one by one so that we know whether the server could already have the
message when something goes wrong: before DATA a retry is safe, after DATA began it is not
(RFC 5321 §4.2.1 for the reply codes; the engineering notes for the lost-250 window).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import aiosmtplib

from mailer.clock import now_in_amsterdam
from mailer.letters.dating import dated
from mailer.sending.replies import account_refusal_line, is_account_refusal, is_throttle
from mailer.sending.smtp_client import describe_reply

__all__ = ["Outcome", "TransactionResult", "deliver", "redact_addresses"]

_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")


class Outcome(StrEnum):
    SENT = "sent"  # the server took it (perhaps not for every recipient)
    DEFERRED = "deferred"  # refused for now, or the connection broke before DATA: try later
    FAILED = "failed"  # refused for good (5xx)
    UNKNOWN = "unknown"  # the connection broke after DATA began: it may have arrived


@dataclass(frozen=True)
class TransactionResult:
    """What the server said; `reply` may name addresses and is kept only with the message."""

    outcome: Outcome
    reply: str
    refused: dict[str, str] = field(default_factory=dict)  # address -> reply
    connection_lost: bool = False
    # The refusal is about the server or the configuration (the sender), not this message:
    # nothing was handed over, so the message goes back unsent and the run stops.
    about_server: bool = False
    # The message could not be claimed just before DATA (another sender took it, or it changed
    # since it was read): nothing was handed over and nothing is recorded; `reply` says why.
    not_claimed: bool = False
    # The server asked to slow down (or the connection broke before DATA): the message was not
    # taken and is tried again in this run, after a pause; no attempt is counted.
    throttled: bool = False


def redact_addresses(text: str) -> str:
    """`text` with every e-mail address replaced, for the journal (no personal data there)."""
    return _ADDRESS.sub("<address>", text)


def _throttled(reply: str, alive: bool) -> TransactionResult:
    return TransactionResult(Outcome.DEFERRED, reply, connection_lost=not alive, throttled=True)


def _about_mailbox(reply: str, alive: bool) -> TransactionResult:
    return TransactionResult(
        Outcome.FAILED, account_refusal_line(reply), connection_lost=not alive, about_server=True
    )


def _by_code(code: int) -> Outcome:
    return Outcome.DEFERRED if 400 <= code < 500 else Outcome.FAILED


def _is_ascii(*texts: str) -> bool:
    return all(text.isascii() for text in texts)


async def _reset(client: aiosmtplib.SMTP) -> bool:
    """RSET after a refusal so the connection can take the next message; False if it broke."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
        return False
    return True


def _broken(error: BaseException, stage: str) -> str:
    detail = " ".join(str(error).split()) or error.__class__.__name__
    return f"connection lost {stage} ({detail})"


async def _envelope(
    client: aiosmtplib.SMTP, sender: str, recipients: list[str]
) -> tuple[TransactionResult | None, dict[str, str]]:
    """MAIL and RCPT: a result when the transaction ends here (else None: DATA may follow),
    and the recipients the server refused."""
    encoding = "ascii" if _is_ascii(sender, *recipients) else "utf-8"
    options = [] if encoding == "ascii" else ["SMTPUTF8"]
    if options and not client.supports_extension("smtputf8"):
        if not sender.isascii():
            reply = (
                f"the server cannot take the non-ASCII sender address {sender} (no SMTPUTF8); "
                "use an ASCII address in MAILER_SENDER"
            )
            return TransactionResult(Outcome.FAILED, reply, about_server=True), {}
        reply = "the server cannot take non-ASCII addresses (no SMTPUTF8)"
        return TransactionResult(Outcome.FAILED, reply), {}
    try:
        await client.mail(sender, options=options, encoding=encoding)
    except aiosmtplib.SMTPResponseException as error:
        alive = await _reset(client)
        reply = describe_reply(error.code, error.message)
        if is_throttle(error.code, error.message):
            return _throttled(reply, alive), {}
        # MAIL FROM names only the sender: a permanent refusal there holds for every message.
        about_server = error.code >= 500
        if is_account_refusal(error.code, error.message):
            reply = account_refusal_line(reply)
        elif about_server:
            reply = (
                f"the server refused the sender {sender} ({reply}); check MAILER_SENDER and "
                "the login (MAILER_SMTP_USERNAME)"
            )
        result = TransactionResult(
            _by_code(error.code), reply, connection_lost=not alive, about_server=about_server
        )
        return result, {}
    refused: dict[str, str] = {}
    codes: list[int] = []
    for recipient in recipients:
        try:
            await client.rcpt(recipient, encoding=encoding)
        except aiosmtplib.SMTPRecipientRefused as error:
            reply = describe_reply(error.code, error.message)
            if is_throttle(error.code, error.message) or is_account_refusal(
                error.code, error.message
            ):
                # About the mailbox, not this recipient: the whole message waits.
                alive = await _reset(client)
                if is_throttle(error.code, error.message):
                    return _throttled(reply, alive), {}
                return _about_mailbox(reply, alive), {}
            refused[recipient] = reply
            codes.append(error.code)
    if len(refused) < len(recipients):
        return None, refused
    alive = await _reset(client)
    any_temporary = any(400 <= code < 500 for code in codes)
    reply = "; ".join(f"{address}: {text}" for address, text in refused.items())
    outcome = Outcome.DEFERRED if any_temporary else Outcome.FAILED
    return TransactionResult(outcome, reply, refused, connection_lost=not alive), refused


async def _data(
    client: aiosmtplib.SMTP,
    data: bytes,
    refused: dict[str, str],
    handing_over: Callable[[], str | None] | None,
) -> TransactionResult:
    refusal = handing_over() if handing_over is not None else None
    if refusal is not None:
        alive = await _reset(client)
        return TransactionResult(
            Outcome.DEFERRED, refusal, refused, connection_lost=not alive, not_claimed=True
        )
    try:
        # The approved bytes carry no Date: it is the moment of sending (mailer.letters.dating).
        response = await client.data(dated(data, now_in_amsterdam()))
    except aiosmtplib.SMTPDataError as error:
        # The server answered: it did not take the message, so the code decides.
        alive = await _reset(client)
        reply = describe_reply(error.code, error.message)
        if is_throttle(error.code, error.message):
            return _throttled(reply, alive)
        if is_account_refusal(error.code, error.message):
            return _about_mailbox(reply, alive)
        return TransactionResult(_by_code(error.code), reply, refused, connection_lost=not alive)
    except (aiosmtplib.SMTPException, OSError) as error:
        client.close()
        return TransactionResult(
            Outcome.UNKNOWN, _broken(error, "after the message was handed over"), refused, True
        )
    return TransactionResult(Outcome.SENT, describe_reply(response.code, response.message), refused)


async def deliver(
    client: aiosmtplib.SMTP,
    sender: str,
    recipients: list[str],
    data: bytes,
    handing_over: Callable[[], str | None] | None = None,
) -> TransactionResult:
    """Send `data` to exactly `recipients` (never the headers') and classify what happened.

    `handing_over` is called just before DATA (the sender claims the message there) and returns
    None to go on, or why not: from then on the server may have the message.
    """
    try:
        early, refused = await _envelope(client, sender, recipients)
    except (aiosmtplib.SMTPException, OSError) as error:
        # Nothing was handed over: tried again in this run, on a new connection.
        client.close()
        return _throttled(_broken(error, "before the message was sent"), alive=False)
    if early is not None:
        return early
    return await _data(client, data, refused, handing_over)
