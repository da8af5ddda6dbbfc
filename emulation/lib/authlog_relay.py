"""Copies a scenario sshd's log (`sshd -E FILE`, LogLevel DEBUG1) into the followed auth
log as the syslog daemon of a real host would have written it.

`sshd -E` writes bare messages. This relay adds what syslog adds (time, host,
`sshd[pid]:`) and keeps only what sshd logs at its default level INFO: debug lines and
the VERBOSE-only messages are dropped. The pid is the sshd process that served the
connection, learnt from the `Forked child N.` / `Connection from ... port P` pair (clients
connect one after the other), so lines of one connection share a pid as they do in a
real auth.log.

    authlog_relay.py --src SSHD_LOG --dst AUTH_LOG --listener-pid PID [--format rfc3164]

It follows SRC until SIGTERM, then copies what is left and exits.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import time
from datetime import datetime
from pathlib import Path

_FORKED = re.compile(r"^debug1: Forked child (\d+)\.")
_CONN_FROM = re.compile(r"^Connection from \S+ port (\d+) on ")
_PORT = re.compile(r" port (\d+)")
_VERBOSE_ONLY = ("Connection from ", "Accepted key ", "Postponed ", "Starting session:",
                 "Close session:", "Server listening on ", "Received signal ")


class Relay:
    """Turns sshd -E lines into auth.log lines."""

    def __init__(self, listener_pid: int, fmt: str, host: str) -> None:
        self.listener_pid = listener_pid
        self.fmt = fmt
        self.host = host
        self.child = listener_pid
        self.by_port: dict[str, int] = {}

    def stamp(self) -> str:
        now = datetime.now().astimezone()
        if self.fmt == "rfc3164":
            return now.strftime("%b ") + f"{now.day:>2}" + now.strftime(" %H:%M:%S")
        return now.isoformat(timespec="microseconds")

    def convert(self, line: str) -> str | None:
        m = _FORKED.match(line)
        if m:
            self.child = int(m.group(1))
            return None
        m = _CONN_FROM.match(line)
        if m:
            self.by_port[m.group(1)] = self.child
        if line.startswith("debug") or line.startswith(_VERBOSE_ONLY) or not line.strip():
            return None
        m = _PORT.search(line)
        pid = self.by_port.get(m.group(1), self.child) if m else self.child
        return f"{self.stamp()} {self.host} sshd[{pid}]: {line}\n"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--listener-pid", type=int, required=True)
    p.add_argument("--format", choices=("rfc3339", "rfc3164"), default="rfc3339")
    a = p.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    relay = Relay(a.listener_pid, a.format, socket.gethostname().split(".")[0])
    if not Path(a.dst).exists():
        # no followed auth log on this host (the runner creates one when there is none):
        # never create one behind the back of a syslog daemon that does not exist
        print(f"authlog_relay: {a.dst} does not exist; sshd lines are not relayed")
        return 0
    src = Path(a.src)
    while not src.exists() and not stop:
        time.sleep(0.05)
    with src.open(encoding="utf-8", errors="replace") as fh, \
            open(a.dst, "a", encoding="utf-8") as out:
        partial = ""
        while True:
            chunk = fh.read()
            if chunk:
                partial += chunk
                *lines, partial = partial.split("\n")
                for line in lines:
                    text = relay.convert(line.rstrip("\r"))
                    if text:
                        out.write(text)
                out.flush()
            elif stop:
                return 0
            else:
                time.sleep(0.05)


if __name__ == "__main__":
    raise SystemExit(main())
