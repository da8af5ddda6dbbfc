"""RFC 5424 syslog sink over the local socket (/dev/log), UDP or TCP.

Falco's priorities are syslog's severities (0 Emergency … 7 Debug), so PRI is
`facility * 8 + priority`. Alert details go in one structured-data element
(`[vigil@32473 ...]`, 32473 being the enterprise number reserved for examples); TCP uses
octet-counting framing (RFC 6587) so multi-line text survives; a unix stream socket gets
LF-terminated messages as local syslog daemons expect.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone

from vigil.alerts.config import SYSLOG_FACILITIES, SinkConfig
from vigil.alerts.message import Alert
from vigil.alerts.sinks.base import SinkError

#: larger datagrams are cut (receivers must accept 480 bytes and should accept 2048)
MAX_DATAGRAM = 8192
_SD_ID = "vigil@32473"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_token(value: str, limit: int) -> str:
    # header fields are printable US-ASCII without spaces; anything else becomes "_"
    clean = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return clean or "-"


def format_rfc5424(alert: Alert, *, facility: int, app_name: str, hostname: str,
                   procid: int) -> bytes:
    """One RFC 5424 message for `alert`."""
    pri = facility * 8 + int(alert.priority)
    ts = datetime.fromtimestamp(alert.ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params = {"route": alert.route, "title": alert.title, "priority": alert.priority.label}
    if alert.key:
        params["key"] = alert.key
    if alert.summary is not None:
        params["count"] = str(alert.summary.count)
        params["unique_ips"] = str(alert.summary.unique_ips)
        if alert.summary.top_ip:
            params["top_ip"] = alert.summary.top_ip
    sd = "[" + _SD_ID + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items()) + "]"
    head = (f"<{pri}>1 {ts} {_header_token(alert.hostname or hostname, 255)} "
            f"{_header_token(app_name, 48)} {procid} {_header_token(alert.kind, 32)} {sd} ")
    return head.encode("utf-8") + alert.text.encode("utf-8")


class SyslogSink:
    """Sends RFC 5424 messages to a local socket, a UDP or a TCP syslog receiver."""

    def __init__(self, name: str, *, transport: str = "unix", address: str = "/dev/log",
                 facility: str = "daemon", app_name: str = "vigil", timeout: float = 10.0,
                 min_interval: float = 0.0) -> None:
        if transport not in ("unix", "udp", "tcp"):
            raise ValueError(f"transport must be unix, udp or tcp, not {transport!r}")
        self.name = name
        self.min_interval = min_interval
        self.transport = transport
        self.address = address
        self.facility = SYSLOG_FACILITIES[facility]
        self.app_name = app_name
        self.timeout = timeout
        self._hostname = socket.gethostname()
        self._sock: socket.socket | None = None
        self._stream = False

    @classmethod
    def from_config(cls, cfg: SinkConfig) -> "SyslogSink":
        """Build from `[alerts.sinks.<name>]`."""
        o = cfg.options
        return cls(cfg.name, transport=o.get("transport", "unix"),
                   address=o.get("address", "/dev/log"), facility=o.get("facility", "daemon"),
                   app_name=o.get("app_name", "vigil"), timeout=cfg.timeout_secs,
                   min_interval=cfg.min_interval_secs)

    def render(self, alert: Alert) -> list[bytes]:
        """One RFC 5424 message."""
        return [format_rfc5424(alert, facility=self.facility, app_name=self.app_name,
                               hostname=self._hostname, procid=os.getpid())]

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if self.transport == "unix":
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.settimeout(self.timeout)
                s.connect(self.address)
                self._stream = False
            except OSError:
                s.close()
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(self.timeout)
                s.connect(self.address)
                self._stream = True
        else:
            host, _, port = self.address.rpartition(":")
            host = host.strip("[]")
            if self.transport == "tcp":
                s = socket.create_connection((host, int(port)), timeout=self.timeout)
                self._stream = True
            else:
                family = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0][0]
                s = socket.socket(family, socket.SOCK_DGRAM)
                s.settimeout(self.timeout)
                s.connect((host, int(port)))
                self._stream = False
        self._sock = s
        return s

    def deliver(self, part: bytes) -> None:
        """Send one message; connection problems are retryable (the socket is reopened)."""
        try:
            sock = self._connect()
            if self.transport == "tcp":
                sock.sendall(str(len(part)).encode() + b" " + part)
            elif self._stream:
                sock.sendall(part.replace(b"\n", b" ") + b"\n")
            else:
                sock.send(part[:MAX_DATAGRAM])
        except OSError as e:
            self.close()
            raise SinkError(f"syslog sink {self.name!r}: {self.transport} {self.address}: "
                            f"{e.strerror or e}", retryable=True) from None

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
