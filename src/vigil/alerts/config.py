"""The `[alerts]` table of `vigil.toml`: routes, batching, retry policy and sinks.

`AlertsConfig.from_dict(table)` validates everything up front and raises
`ConfigError(key, message)` naming the dotted key of the first bad value, so a typo in a
route or a sink never reaches run time. Secrets (tokens, webhook URLs) are kept out of
`repr()`; a value read from the environment is resolved only when a sink is built
(`resolve_secret`), so `vigil alerts status` works without the secrets being set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from typing import Any

from vigil.config_errors import ConfigError
from vigil.priority import Priority

SINK_TYPES = ("telegram", "slack", "webhook", "falco_json", "syslog", "file", "stdout")

#: keys every sink accepts, whatever its type
_COMMON_SINK_KEYS = {"type", "timeout_secs", "min_interval_secs"}

#: per sink type: allowed keys -> expected Python type(s)
_SINK_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "telegram": {"token": (str,), "token_env": (str,), "chat_id": (str, int),
                 "chat_id_env": (str,), "api_url": (str,), "parse_mode": (str,),
                 "disable_notification": (bool,)},
    "slack": {"url": (str,), "url_env": (str,)},
    "webhook": {"url": (str,), "url_env": (str,), "headers": (dict,)},
    "falco_json": {"url": (str,), "url_env": (str,), "headers": (dict,), "mode": (str,)},
    "syslog": {"transport": (str,), "address": (str,), "facility": (str,),
               "app_name": (str,)},
    "file": {"path": (str,)},
    "stdout": {},
}

#: default seconds between two messages, per sink type (Telegram asks for ~1/s per chat)
_DEFAULT_MIN_INTERVAL = {"telegram": 1.0}

SYSLOG_FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}


@dataclass(frozen=True)
class SecretRef:
    """A secret given inline (`token = ...`) or by environment variable (`token_env = ...`).

    The inline value is never shown by `repr()`; `key` is the config key to blame when
    the secret cannot be resolved.
    """

    key: str
    value: str | None = field(default=None, repr=False)
    env: str | None = None

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        """The secret's value; raises `ConfigError` when it is not set anywhere."""
        if self.value is not None:
            return self.value
        env = os.environ if environ is None else environ
        if self.env is not None:
            val = env.get(self.env)
            if val:
                return val
            raise ConfigError(f"{self.key}_env",
                              f"environment variable {self.env} is not set or empty")
        raise ConfigError(self.key, f"missing: set {self.key.rsplit('.', 1)[-1]} "
                          f"or {self.key.rsplit('.', 1)[-1]}_env")


@dataclass(frozen=True)
class SinkConfig:
    """One `[alerts.sinks.<name>]` table. `options` holds the type-specific plain keys;
    secrets (token, chat id, URLs) are `SecretRef`s in `secrets`."""

    name: str
    type: str
    timeout_secs: float = 10.0
    min_interval_secs: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, SecretRef] = field(default_factory=dict)

    def secret(self, name: str, environ: Mapping[str, str] | None = None) -> str:
        """Resolve the secret `name` (e.g. "token", "url"); a URL is checked here too, since
        one read from the environment is only known now."""
        ref = self.secrets.get(name)
        if ref is None:
            raise ConfigError(f"alerts.sinks.{self.name}.{name}",
                              f"missing: set {name} or {name}_env")
        value = ref.resolve(environ)
        if name in _URL_SECRETS:
            problem = http_url_problem(value)
            if problem is not None:
                key = ref.key if ref.env is None else f"{ref.key}_env"
                where = "" if ref.env is None else f"environment variable {ref.env}: "
                raise ConfigError(key, f"{where}{problem}")
        return value


@dataclass(frozen=True)
class RouteConfig:
    """One `[[alerts.routes]]` entry: which incidents go to which sink.

    Within a matcher list any entry may match; when several matcher lists are given, each
    must match (tags AND detectors AND rules). An empty list matches everything.
    """

    name: str
    sink: str
    min_priority: Priority = Priority.DEBUG
    tags: tuple[str, ...] = ()
    detectors: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    batch_window_secs: float = 60.0
    #: incidents at least this severe skip batching; None = never
    bypass_batching_min_priority: Priority | None = None
    #: what puts incidents in one batch group (`auto`, or labels: incident, rule,
    #: remote_ip, user, host, priority); see `vigil.alerts.routing.group_key`
    group_by: tuple[str, ...] = ("auto",)
    #: seconds an opened incident's message waits for more detections of the same story
    #: (they are listed in that one message instead of each sending its own)
    group_wait_secs: float = 2.0
    #: which incident events send a message: opened, escalated, closed
    notify: tuple[str, ...] = ("opened", "escalated")
    #: True when the sink takes one message per detection (a Falco JSON sink in
    #: `mode = "detection"`, for Falcosidekick): no incidents, no batching
    per_detection: bool = False


GROUP_LABELS = ("auto", "incident", "rule", "remote_ip", "user", "host", "priority")
NOTIFY_EVENTS = ("opened", "escalated", "closed")


@dataclass(frozen=True)
class RetryConfig:
    """How failed deliveries are retried and when they are given up (dead-lettered)."""

    initial_backoff_secs: float = 2.0
    max_backoff_secs: float = 300.0
    dead_letter_after_secs: float = 86400.0


@dataclass(frozen=True)
class AlertsConfig:
    """The validated `[alerts]` table."""

    routes: tuple[RouteConfig, ...] = ()
    sinks: dict[str, SinkConfig] = field(default_factory=dict)
    retry: RetryConfig = RetryConfig()
    batch_window_secs: float = 60.0
    bypass_batching_min_priority: Priority | None = None
    #: capacity of the in-memory queue between the engine and the pipeline
    queue_size: int = 10000
    hostname: str | None = None

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> "AlertsConfig":
        """Validate the `[alerts]` table (as read by tomllib)."""
        return _parse_alerts(table)


# --- validation helpers ------------------------------------------------------------------

def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for k in table:
        if k not in allowed:
            raise ConfigError(f"{where}.{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected a table, got {type(value).__name__}")
    return value


def _number(value: Any, key: str, *, minimum: float = 0.0, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, f"expected a number, got {value!r}")
    if value < minimum or (positive and value <= 0):
        raise ConfigError(key, f"must be {'> ' if positive else '>= '}{minimum}, got {value!r}")
    return float(value)


def _priority(value: Any, key: str) -> Priority:
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a priority name, got {value!r}")
    try:
        return Priority.parse(value)
    except ValueError as e:
        raise ConfigError(key, str(e)) from None


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, "expected a string or a list of strings")
    return tuple(value)


def _parse_alerts(table: Mapping[str, Any]) -> AlertsConfig:
    table = _table(table, "alerts")
    _check_keys(table, {"batch_window_secs", "bypass_batching_min_priority", "retry",
                        "dead_letter_after_secs", "routes", "sinks", "queue_size",
                        "hostname"}, "alerts")
    window = _number(table.get("batch_window_secs", 60), "alerts.batch_window_secs",
                     positive=True)
    bypass = None
    if "bypass_batching_min_priority" in table:
        bypass = _priority(table["bypass_batching_min_priority"],
                           "alerts.bypass_batching_min_priority")
    retry = _parse_retry(table.get("retry", {}), table.get("dead_letter_after_secs"))
    queue_size = table.get("queue_size", 10000)
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
        raise ConfigError("alerts.queue_size", f"expected a positive integer, got {queue_size!r}")
    hostname = table.get("hostname")
    if hostname is not None and not isinstance(hostname, str):
        raise ConfigError("alerts.hostname", "expected a string")

    sinks_table = _table(table.get("sinks", {}), "alerts.sinks")
    sinks = {name: _parse_sink(name, spec) for name, spec in sinks_table.items()}

    routes_list = table.get("routes", [])
    if not isinstance(routes_list, list):
        raise ConfigError("alerts.routes", "expected an array of tables ([[alerts.routes]])")
    routes = []
    seen: set[str] = set()
    for i, spec in enumerate(routes_list):
        route = _parse_route(i, spec, sinks, window, bypass)
        if route.name in seen:
            raise ConfigError(f"alerts.routes[{i}].name", f"duplicate route name {route.name!r}")
        seen.add(route.name)
        routes.append(route)
    return AlertsConfig(routes=tuple(routes), sinks=sinks, retry=retry,
                        batch_window_secs=window, bypass_batching_min_priority=bypass,
                        queue_size=queue_size, hostname=hostname)


def _parse_retry(spec: Any, dead_letter_top: Any) -> RetryConfig:
    spec = _table(spec, "alerts.retry")
    _check_keys(spec, {"initial_backoff_secs", "max_backoff_secs", "dead_letter_after_secs"},
                "alerts.retry")
    default = RetryConfig()
    initial = _number(spec.get("initial_backoff_secs", default.initial_backoff_secs),
                      "alerts.retry.initial_backoff_secs", positive=True)
    maximum = _number(spec.get("max_backoff_secs", default.max_backoff_secs),
                      "alerts.retry.max_backoff_secs", positive=True)
    if maximum < initial:
        raise ConfigError("alerts.retry.max_backoff_secs",
                          f"must be >= initial_backoff_secs ({initial})")
    if dead_letter_top is not None and "dead_letter_after_secs" in spec:
        raise ConfigError("alerts.dead_letter_after_secs",
                          "given twice (also in [alerts.retry]); keep one")
    if dead_letter_top is not None:
        dead = _number(dead_letter_top, "alerts.dead_letter_after_secs", positive=True)
    else:
        dead = _number(spec.get("dead_letter_after_secs", default.dead_letter_after_secs),
                       "alerts.retry.dead_letter_after_secs", positive=True)
    return RetryConfig(initial_backoff_secs=initial, max_backoff_secs=maximum,
                       dead_letter_after_secs=dead)


def _parse_route(i: int, spec: Any, sinks: Mapping[str, SinkConfig], window: float,
                 bypass: Priority | None) -> RouteConfig:
    where = f"alerts.routes[{i}]"
    spec = _table(spec, where)
    _check_keys(spec, {"name", "sink", "min_priority", "tags", "detectors", "rules",
                       "batch_window_secs", "bypass_batching_min_priority", "group_by",
                       "group_wait_secs", "notify"}, where)
    sink = spec.get("sink")
    if not isinstance(sink, str):
        raise ConfigError(f"{where}.sink", "missing or not a string: name a sink from [alerts.sinks]")
    if sink not in sinks:
        raise ConfigError(f"{where}.sink", f"unknown sink {sink!r} (configured: "
                          f"{', '.join(sorted(sinks)) or 'none'})")
    name = spec.get("name", f"route{i}")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name", "expected a non-empty string")
    min_priority = Priority.DEBUG
    if "min_priority" in spec:
        min_priority = _priority(spec["min_priority"], f"{where}.min_priority")
    route_bypass = bypass
    if "bypass_batching_min_priority" in spec:
        route_bypass = _priority(spec["bypass_batching_min_priority"],
                                 f"{where}.bypass_batching_min_priority")
    group_by = _str_list(spec.get("group_by", ["auto"]), f"{where}.group_by")
    for label in group_by:
        if label not in GROUP_LABELS:
            raise ConfigError(f"{where}.group_by", f"unknown label {label!r} (expected "
                              f"{', '.join(GROUP_LABELS)})")
    if not group_by or ("auto" in group_by and len(group_by) > 1):
        raise ConfigError(f"{where}.group_by", "give `auto` alone, or one or more labels")
    notify = _str_list(spec.get("notify", ["opened", "escalated"]), f"{where}.notify")
    for ev in notify:
        if ev not in NOTIFY_EVENTS:
            raise ConfigError(f"{where}.notify", f"unknown event {ev!r} (expected "
                              f"{', '.join(NOTIFY_EVENTS)})")
    sink_cfg = sinks[sink]
    per_detection = sink_cfg.type == "falco_json" and \
        sink_cfg.options.get("mode", "detection") == "detection"
    return RouteConfig(
        name=name, sink=sink, min_priority=min_priority,
        group_by=group_by, notify=notify, per_detection=per_detection,
        group_wait_secs=_number(spec.get("group_wait_secs", 2.0), f"{where}.group_wait_secs"),
        tags=_str_list(spec.get("tags", []), f"{where}.tags"),
        detectors=_str_list(spec.get("detectors", []), f"{where}.detectors"),
        rules=_str_list(spec.get("rules", []), f"{where}.rules"),
        batch_window_secs=_number(spec.get("batch_window_secs", window),
                                  f"{where}.batch_window_secs", positive=True),
        bypass_batching_min_priority=route_bypass,
    )


#: secrets that are URLs (checked by `http_url_problem`)
_URL_SECRETS = frozenset({"url"})


def http_url_problem(value: str) -> str | None:
    """Why `value` is not an http(s) URL a sink can post to, or None. The value itself is
    not quoted: a webhook URL is a secret."""
    text = value.strip()
    if not text:
        return "must be an http:// or https:// URL, not empty"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        return f"must be an http:// or https:// URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        got = (f"its scheme is {parts.scheme!r}" if parts.scheme and "://" in text
               else "it has no scheme://")
        return f"must be an http:// or https:// URL ({got})"
    if not parts.hostname:
        return "must be an http:// or https:// URL with a host name (it has none)"
    if any(c.isspace() for c in parts.netloc):
        return "must be an http:// or https:// URL (white space in its host)"
    return None


#: secrets per sink type: the key and whether it is required
_SECRETS = {
    "telegram": ("token", "chat_id"),
    "slack": ("url",),
    "webhook": ("url",),
    "falco_json": ("url",),
}


def _parse_sink(name: str, spec: Any) -> SinkConfig:
    where = f"alerts.sinks.{name}"
    spec = _table(spec, where)
    typ = spec.get("type")
    if typ not in SINK_TYPES:
        raise ConfigError(f"{where}.type", f"expected one of {', '.join(SINK_TYPES)}, got {typ!r}")
    allowed = _SINK_KEYS[typ]
    _check_keys(spec, _COMMON_SINK_KEYS | set(allowed), where)
    for k, types in allowed.items():
        if k in spec and (isinstance(spec[k], bool) and bool not in types
                          or not isinstance(spec[k], types)):
            raise ConfigError(f"{where}.{k}", f"expected {' or '.join(t.__name__ for t in types)},"
                              f" got {type(spec[k]).__name__}")
    secrets: dict[str, SecretRef] = {}
    for sec in _SECRETS.get(typ, ()):
        inline, env = spec.get(sec), spec.get(f"{sec}_env")
        if inline is not None and env is not None:
            raise ConfigError(f"{where}.{sec}", f"give {sec} or {sec}_env, not both")
        if inline is None and env is None:
            raise ConfigError(f"{where}.{sec}", f"missing: set {sec} or {sec}_env")
        if sec in _URL_SECRETS and inline is not None:
            problem = http_url_problem(str(inline))
            if problem is not None:
                raise ConfigError(f"{where}.{sec}", problem)
        secrets[sec] = SecretRef(key=f"{where}.{sec}",
                                 value=None if inline is None else str(inline), env=env)
    options = {k: v for k, v in spec.items()
               if k not in _COMMON_SINK_KEYS and k not in secrets
               and not (k.endswith("_env") and k[:-4] in secrets)}
    _validate_sink_options(typ, options, where)
    timeout = _number(spec.get("timeout_secs", 10.0), f"{where}.timeout_secs", positive=True)
    interval = _number(spec.get("min_interval_secs", _DEFAULT_MIN_INTERVAL.get(typ, 0.0)),
                       f"{where}.min_interval_secs")
    return SinkConfig(name=name, type=typ, timeout_secs=timeout, min_interval_secs=interval,
                      options=options, secrets=secrets)


def _validate_sink_options(typ: str, options: Mapping[str, Any], where: str) -> None:
    if typ == "telegram":
        if "api_url" in options:
            problem = http_url_problem(options["api_url"])
            if problem is not None:
                raise ConfigError(f"{where}.api_url", problem)
        mode = options.get("parse_mode", "HTML")
        if mode not in ("HTML", "MarkdownV2"):
            raise ConfigError(f"{where}.parse_mode", f"expected HTML or MarkdownV2, got {mode!r}")
    elif typ == "syslog":
        transport = options.get("transport", "unix")
        if transport not in ("unix", "udp", "tcp"):
            raise ConfigError(f"{where}.transport", f"expected unix, udp or tcp, got {transport!r}")
        if transport in ("udp", "tcp") and "address" not in options:
            raise ConfigError(f"{where}.address", f"required for transport {transport!r} (host:port)")
        if transport in ("udp", "tcp"):
            host, _, port = str(options["address"]).rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(f"{where}.address", "expected host:port")
        if options.get("facility", "daemon") not in SYSLOG_FACILITIES:
            raise ConfigError(f"{where}.facility",
                              f"expected one of {', '.join(SYSLOG_FACILITIES)}")
    elif typ == "falco_json" and options.get("mode", "detection") not in ("detection",
                                                                          "incident"):
        raise ConfigError(f"{where}.mode", "expected \"detection\" (one Falco document per "
                          "detection, as Falco sends) or \"incident\"")
    elif typ == "file" and not options.get("path"):
        raise ConfigError(f"{where}.path", "required for a file sink")
    for hk in ("headers",):
        if hk in options and not all(isinstance(v, str) for v in options[hk].values()):
            raise ConfigError(f"{where}.{hk}", "header values must be strings")
