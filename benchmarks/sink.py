"""The benchmark's SMTP sink: the local server of `mailer smtp-server`, counting instead of storing,
in a process of its own so that it does not share the sender's interpreter.

Usage: python benchmarks/sink.py PORT  (stops on SIGTERM, printing how many messages arrived)
"""

from __future__ import annotations

import signal
import sys
import threading

from mailer.sending.local_server import LocalSmtpServer

__all__ = ["main"]


def main() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalSmtpServer(None, port=int(sys.argv[1])) as server:
        print("ready", flush=True)
        stop.wait()
    print(server.handler.received, flush=True)


if __name__ == "__main__":
    main()
