"""Keep secrets out of logs and error messages.

A sink's secrets are a Telegram bot token, a webhook URL (Slack's, or any with a token in
its path or query), header values. They reach texts in other spellings than the
configured one: httpx logs `http://localhost:8080/hook%20x` for `http://LocalHost:8080/hook x`,
an IDNA host for a non-ASCII one, percent-encoded UTF-8 for a non-ASCII path. So a secret
is not looked for as a string but taken apart:

- a URL secret is parsed (scheme, host, port, path, query, user info); any URL in a text
  that is the same URL once normalised (scheme and host case, IDNA, default port,
  percent-encoding) is cut to `scheme://host:port/<redacted>`;
- its path segments, query values and user info that look like tokens (a digit in six
  characters or more, or sixteen characters), its whole path and query, and any non-URL
  secret (a bot token, a header value and the words in it) are tokens, each removed in
  every spelling: as is, percent-encoded, percent-decoded, any letter case.

The host alone is not treated as secret (it says where delivery failed).

Sinks register their secrets here; `protect_http_logs` installs a logging filter on the
HTTP libraries' loggers and on the alert pipeline's own, which rewrites the message and
any traceback of a record before a handler sees it, and `redact()` scrubs error texts.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, quote, quote_plus, unquote, urlsplit

REDACTED = "<redacted>"

#: loggers that may print request URLs, headers or sink errors (with tracebacks)
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11",
                 "httpcore.http2", "httpcore.proxy", "httpcore.socks",
                 "vigil.alerts.delivery", "vigil.alerts.pipeline", "vigil.alerts.outbox",
                 "vigil.alerts.probe", "vigil.agent")
#: something that starts like a URL; it ends at white space or a quote
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: a token is at least this long ...
_TOKEN_MIN = 6
#: ... and has a digit, or is at least this long
_TOKEN_LONG = 16


@dataclass(frozen=True)
class _UrlKey:
    """A URL reduced to what identifies it, spelling aside."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: tuple[tuple[str, str], ...]


def _host(raw: str) -> str:
    host = raw.lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _url_key(parts: SplitResult) -> _UrlKey | None:
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return _UrlKey(scheme, _host(parts.hostname),
                   port if port is not None else _DEFAULT_PORTS.get(scheme),
                   unquote(parts.path).rstrip("/"),
                   tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))))


def _looks_like_token(text: str) -> bool:
    return len(text) >= _TOKEN_LONG or (len(text) >= _TOKEN_MIN
                                        and any(c.isdigit() for c in text))


def _spellings(token: str) -> set[str]:
    """`token` as it may appear in a text: as is, percent-encoded, decoded."""
    decoded = unquote(token)
    out = {token, decoded, unquote(token.replace("+", " "))}
    for t in (token, decoded):
        out |= {quote(t, safe=""), quote(t, safe="/:@!$&'()*+,;="), quote_plus(t)}
    return {s for s in out if s}


class Secrets:
    """The secrets of one sink, ready to be removed from texts."""

    def __init__(self, values: Iterable[str]) -> None:
        urls: list[_UrlKey] = []
        tokens: set[str] = set()
        for value in values:
            if not value:
                continue
            parts = urlsplit(value.strip()) if "://" in value else None
            key = _url_key(parts) if parts is not None else None
            if key is None:
                tokens.add(value)
                tokens.update(w for w in value.split() if _looks_like_token(w))
                continue
            urls.append(key)
            tokens.update(self._url_tokens(parts))  # type: ignore[arg-type]
        self._urls = tuple(urls)
        spelled = {s for t in tokens for s in _spellings(t)}
        # longest first, so that a token is not cut by a shorter one inside it
        alternatives = sorted(spelled, key=len, reverse=True)
        self._tokens = (re.compile("|".join(re.escape(s) for s in alternatives), re.IGNORECASE)
                        if alternatives else None)

    @staticmethod
    def _url_tokens(parts: SplitResult) -> set[str]:
        out: set[str] = set()
        path = parts.path.strip("/")
        if len(path) >= _TOKEN_MIN:
            out.add(parts.path)
        if parts.query:
            out.add(parts.query)
        for seg in path.split("/"):
            if _looks_like_token(unquote(seg)):
                out.add(seg)
        for _name, value in parse_qsl(parts.query, keep_blank_values=True):
            if _looks_like_token(value):
                out.add(value)
        for part in (parts.username, parts.password, parts.fragment):
            if part:
                out.add(part)
        return out

    def __bool__(self) -> bool:
        return bool(self._urls) or self._tokens is not None

    def redact(self, text: str) -> str:
        """`text` with every URL of these secrets cut and every token replaced."""
        if self._urls and "://" in text:
            text = _URL_IN_TEXT.sub(self._cut_url, text)
        if self._tokens is not None:
            text = self._tokens.sub(REDACTED, text)
        return text

    def _cut_url(self, m: re.Match[str]) -> str:
        raw = m.group(0)
        trail = ""
        while raw and raw[-1] in ".,;:)]}":  # sentence punctuation after a URL
            raw, trail = raw[:-1], raw[-1] + trail
        try:
            parts = urlsplit(raw)
        except ValueError:
            return m.group(0)
        key = _url_key(parts)
        if key is None or key not in self._urls:
            return m.group(0)
        port = f":{key.port}" if key.port is not None else ""
        return f"{key.scheme}://{key.host}{port}/{REDACTED}{trail}"


def redact(text: str, secrets: Iterable[str] | Secrets) -> str:
    """`text` with every secret removed (see `Secrets`)."""
    s = secrets if isinstance(secrets, Secrets) else Secrets(secrets)
    return s.redact(text)


class RedactingFilter(logging.Filter):
    """A logging filter that removes secrets from a record's message and traceback."""

    def __init__(self, secrets: Iterable[str] | Secrets) -> None:
        super().__init__()
        self.secrets = secrets if isinstance(secrets, Secrets) else Secrets(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        msg = record.getMessage()
        clean = self.secrets.redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # formatted now, scrubbed, and cached where handlers look for it
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = self.secrets.redact(text.rstrip("\n"))
        elif record.exc_text:
            record.exc_text = self.secrets.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.secrets.redact(record.stack_info)
        return True


def protect_http_logs(secrets: Iterable[str] | Secrets) -> RedactingFilter:
    """Install a `RedactingFilter` for `secrets` on the loggers that may print them; returns
    it so that the sink can remove it on close (`unprotect_http_logs`)."""
    flt = RedactingFilter(secrets)
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).addFilter(flt)
    return flt


def unprotect_http_logs(flt: RedactingFilter) -> None:
    """Remove a filter installed by `protect_http_logs`."""
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).removeFilter(flt)
