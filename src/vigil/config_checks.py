"""What `vigil config check` verifies beyond the schema: everything `vigil run` would trip
over at start, found before a service manager finds it in a crash loop.

- every secret a sink takes from the environment is set (`token_env`, `url_env`, ...),
  and a URL from `url_env` is an http(s) URL;
- the metrics address can be bound;
- the state directory can be created and written;
- the rule files can be read, and load and compile without errors.

Each problem is a `ConfigError` naming the key it comes from, located in the file like a
schema error (file:line:col).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from vigil.config import VigilConfig
from vigil.config_errors import ConfigError
from vigil.config_locate import locate_key


def _secrets(cfg: VigilConfig, environ: Mapping[str, str]) -> list[ConfigError]:
    out = []
    alerts = cfg.alerts
    for name, sink in (getattr(alerts, "sinks", None) or {}).items():
        for secret in sink.secrets:
            try:
                sink.secret(secret, environ)  # set, and a URL where one is expected
            except ConfigError as exc:
                out.append(exc)
    return out


def _bindable(cfg: VigilConfig) -> list[ConfigError]:
    if not cfg.metrics.enabled:
        return []
    from vigil.metrics import split_listen
    host, port = split_listen(cfg.metrics.listen)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return [ConfigError("metrics.listen", f"cannot resolve {host!r}: {exc.strerror}")]
    family, _, _, _, addr = infos[0]
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
    except OSError as exc:
        why = "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        return [ConfigError("metrics.listen", f"cannot listen on {cfg.metrics.listen}: {why}")]
    finally:
        s.close()
    return []


def _state_dir(cfg: VigilConfig) -> list[ConfigError]:
    d = Path(cfg.state_dir)
    probe = d
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        return [ConfigError("state_dir", f"{d} cannot be created or written "
                                          f"({probe} is not writable for this user)")]
    if probe == d and not d.is_dir():
        return [ConfigError("state_dir", f"{d} is not a directory")]
    return []


def _rules(cfg: VigilConfig) -> list[ConfigError]:
    from vigil.agent import BuiltPipeline, build_engines
    from vigil.pipeline import DetectionPipeline

    out = []
    for i, f in enumerate(cfg.rules.falco_files()):
        if not os.access(f, os.R_OK):
            out.append(ConfigError("rules.falco", f"{f}: not readable"))
    if out:
        return out
    built = BuiltPipeline(DetectionPipeline([]), cfg)
    built.falco_paths, built.sigma_paths = cfg.rules.falco_files(), cfg.rules.sigma_files()
    engines = build_engines(built)
    if engines.falco is not None:
        engines.falco.ruleset.names.stop()
    key = "rules.falco"
    for problem in engines.problems:
        out.append(ConfigError(key, problem))
    return out


def deep_check(cfg: VigilConfig, text: str | None = None, path: str | Path | None = None,
               environ: Mapping[str, str] | None = None, *,
               rules: bool = True, bind: bool = True) -> list[ConfigError]:
    """Every problem `vigil run` would meet with this configuration, located in `text`
    (`rules`/`bind` off: the quick part, for `vigil run`'s own start)."""
    env = os.environ if environ is None else environ
    problems = _secrets(cfg, env) + _state_dir(cfg)
    if bind:
        problems += _bindable(cfg)
    if rules:
        problems += _rules(cfg)
    return located(problems, text, path)


def located(problems: list[ConfigError], text: str | None,
            path: str | Path | None) -> list[ConfigError]:
    """The problems with file, line and column where their key is written."""
    if text is None:
        return problems
    out = []
    for p in problems:
        pos = locate_key(text, p.key) if p.key else None
        out.append(ConfigError(p.key, p.message, path=str(path) if path else None,
                               line=pos[0] if pos else None, col=pos[1] if pos else None))
    return out
