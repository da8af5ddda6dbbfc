"""The HTTP plumbing the Telegram, Slack, webhook and Falco JSON sinks share.

Errors are classified as Alertmanager's notifiers do: a connection error, a timeout, a 408,
a 429 or a 5xx can be retried; any other non-2xx cannot. `Retry-After` (seconds) is
honoured. Secrets are scrubbed from error texts and from the HTTP libraries' logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import msgspec

from vigil.alerts.sinks.base import SinkError
from vigil.alerts.sinks.redact import Secrets, protect_http_logs, unprotect_http_logs

_RETRYABLE_STATUS = frozenset({408, 425, 429})


def retry_after_header(resp: httpx.Response) -> float | None:
    """The `Retry-After` header in seconds, when it is a number."""
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class JsonPoster:
    """POSTs JSON documents with one pooled client; raises `SinkError` on failure."""

    def __init__(self, *, what: str, timeout: float, secrets: Iterable[str] = (),
                 headers: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.what = what
        self._secrets = Secrets(secrets)
        self._log_filter = protect_http_logs(self._secrets)
        self._client = httpx.Client(timeout=timeout, transport=transport,
                                    headers={"User-Agent": "vigil-alerts", **(headers or {})})

    def redact(self, text: str) -> str:
        """`text` without this poster's secrets."""
        return self._secrets.redact(text)

    def post(self, url: str, payload: Any, *, check: bool = True) -> httpx.Response:
        """POST `payload` as JSON; returns the response, or raises `SinkError` when the
        request failed or (with `check`) the status is not 2xx."""
        try:
            resp = self._client.post(url, content=msgspec.json.encode(payload),
                                     headers={"Content-Type": "application/json"})
        except httpx.TimeoutException:
            raise SinkError(f"{self.what}: request timed out", retryable=True) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            # a malformed URL stays malformed: retrying it for a day helps nobody
            raise SinkError(self.redact(f"{self.what}: bad URL: {e}"), retryable=False) from None
        except httpx.HTTPError as e:
            raise SinkError(self.redact(f"{self.what}: {type(e).__name__}: {e}"),
                            retryable=True) from None
        if resp.is_success or not check:
            return resp
        raise self.status_error(resp, retry_after_header(resp))

    def status_error(self, resp: httpx.Response, retry_after: float | None) -> SinkError:
        """The `SinkError` for a non-2xx response."""
        retryable = resp.status_code in _RETRYABLE_STATUS or resp.status_code >= 500
        body = resp.text[:300].replace("\n", " ")
        return SinkError(self.redact(f"{self.what}: HTTP {resp.status_code}: {body}"),
                         retryable=retryable, retry_after=retry_after)

    def close(self) -> None:
        """Close the client and remove the log filter."""
        self._client.close()
        unprotect_http_logs(self._log_filter)
