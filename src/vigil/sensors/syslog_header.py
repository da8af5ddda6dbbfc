"""Split one syslog line into its stamp, host, program, pid and message (no I/O).

The headers an authentication log carries in practice:

- RFC 3164 (`Nov 26 10:00:00 web sshd[77]: ...`), optionally with fractional seconds
  (`journalctl -o short-precise`), a `<PRI>` in front, a BSD verbose `<auth.info>` before
  the host, or no host at all (`Nov 23 21:50:19 sshd[8148]: ...`);
- ISO 8601 / RFC 3339 stamps (rsyslog's high-precision format, `journalctl -o short-iso`),
  with `T` or a space between date and time;
- RFC 5424 (`<38>1 2019-07-08T17:40:16.95-04:00 host sshd 57915 - - message`);
- program tags `sshd[77]:`, `sshd:`, `[sshd]:`, `[sshd]` and `sshd(pam_unix)[77]:`;
- Solaris/illumos message ids after the tag (`sshd[7]: [ID 800047 auth.info] Failed ...`),
  which are dropped from the message.

A RFC 3164 stamp has no year and no zone: the year is the one that puts the line at most a
day after `now` (a December line read in January belongs to last year), the zone is `tz`
(default: the host's local zone).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone, tzinfo

_PRI = r"(?:<\d{1,3}>)?"
_RFC3164 = re.compile(_PRI + r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) "
                      r"(?P<hms>\d{1,2}:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))? (?P<rest>.*)$", re.S)
_ISO = re.compile(_PRI + r"(?P<date>\d{4}-\d\d-\d\d)[T ](?P<time>\d\d:\d\d:\d\d)"
                  r"(?:[.,](?P<frac>\d{1,9}))?(?P<zone>Z|[+-]\d\d:?\d\d)? (?P<rest>.*)$", re.S)
# structured data: `-` or one or more [id key="value" ...] elements, values may hold `]`
_SD = r'(?:-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+)'
_RFC5424 = re.compile(r"<\d{1,3}>1 (?P<iso>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
                      rf"\S+ {_SD}(?: (?P<msg>.*))?$", re.S)
_VERBOSE = re.compile(r"<[^\s.>]+\.[^\s.>]+> ")
#: `sshd[77]:`, `sshd:`, `[sshd]:`, `[sshd]`, `sshd(pam_unix)[77]:`, `sshd[77]`
_TAG = re.compile(r"(?:\[(?P<bprog>[\w./-]+)\]:?|(?P<prog>[\w./-]+)(?:\([^)\s]*\))?"
                  r"(?:\[(?P<pid>\d{1,10})\]:?|:))(?: |$)")
_SOLARIS_ID = re.compile(r"\[ID \d+ [\w.]+\] ")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


@dataclass(frozen=True)
class SyslogLine:
    """The parts of one log line; `ts` in ns since the epoch."""

    ts: int
    host: str | None
    program: str
    pid: int | None
    message: str


def split_syslog_line(line: str, *, now: float | None = None,
                      tz: tzinfo | None = None) -> SyslogLine | None:
    """The parts of `line` (without its newline), or None when it has no header we know."""
    if line.startswith("<") and (m := _RFC5424.match(line)) is not None:
        ts = _iso_ns(m["iso"], tz)
        if ts is None:
            return None
        procid = m["procid"]
        msg = (m["msg"] or "").lstrip("\ufeff")
        return SyslogLine(ts, _nil(m["host"]), m["app"],
                          int(procid) if procid.isdigit() and len(procid) <= 10 else None, msg)
    m = _RFC3164.match(line)
    if m is not None:
        month = _MONTHS.get(m["mon"])
        if month is None:
            return None
        ts = _ts_3164(month, int(m["day"]), m["hms"], now, tz)
        if ts is None:
            return None
        return _split_rest(ts + _frac_ns(m["frac"]), m["rest"])
    m = _ISO.match(line)
    if m is not None:
        ts = _iso_ns(f"{m['date']}T{m['time']}{m['zone'] or ''}", tz)
        if ts is None:
            return None
        return _split_rest(ts + _frac_ns(m["frac"]), m["rest"])
    return None


def _split_rest(ts: int, rest: str) -> SyslogLine | None:
    """`[<fac.lvl> ][host ]tag message` after the stamp."""
    if (v := _VERBOSE.match(rest)) is not None:
        rest = rest[v.end():]
    tag = _TAG.match(rest)
    host = None
    if tag is None:
        host, sep, rest = rest.partition(" ")
        tag = _TAG.match(rest) if sep else None
        if tag is None:
            return None
    program = tag["bprog"] or tag["prog"]
    pid = int(tag["pid"]) if tag["pid"] else None
    message = rest[tag.end():]
    if (sid := _SOLARIS_ID.match(message)) is not None:
        message = message[sid.end():]
    return SyslogLine(ts, host or None, program, pid, message)


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _frac_ns(frac: str | None) -> int:
    return int(frac.ljust(9, "0")) if frac else 0


def _iso_ns(text: str, tz: tzinfo | None) -> int | None:
    """ns since the epoch of an ISO 8601 stamp; a fraction is kept to the ns."""
    frac = 0
    m = re.match(r"(.*?:\d\d)[.,](\d{1,9})(.*)$", text)
    if m is not None:
        text, frac = m[1] + m[3], _frac_ns(m[2])
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz) if tz is not None else dt.astimezone()
    return _to_ns(dt) + frac


def _ts_3164(month: int, day: int, hms: str, now: float | None,
             tz: tzinfo | None) -> int | None:
    now_s = time.time() if now is None else now
    ref_year = _year_at(int(now_s) // 3600, tz)
    latest = int(now_s * 1e9) + _DAY_NS
    for year in (ref_year + 1, ref_year, ref_year - 1):
        ts = _local_ns(year, month, day, hms, tz)
        if ts is not None and ts <= latest:
            return ts
    return None


_DAY_NS = 86_400 * 10**9


@lru_cache(maxsize=64)
def _year_at(hour: int, tz: tzinfo | None) -> int:
    """The year in `tz` at the start of this hour since the epoch (cached: it is asked
    for every line)."""
    return datetime.fromtimestamp(hour * 3600, tz or timezone.utc).astimezone(tz).year


@lru_cache(maxsize=8192)
def _local_ns(year: int, month: int, day: int, hms: str, tz: tzinfo | None) -> int | None:
    """ns since the epoch of a wall-clock time in `tz` (default: local); None if there is
    no such date. Cached: a log has many lines per second."""
    hh, mm, ss = (int(x) for x in hms.split(":"))
    try:
        naive = datetime(year, month, day, hh, mm, ss)
    except ValueError:  # Feb 29 in a year without it, 25:00:00, ...
        return None
    return _to_ns(naive.replace(tzinfo=tz) if tz is not None else naive.astimezone())


def _to_ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
