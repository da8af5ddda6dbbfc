"""Writing a chosen suggestion: into vigil.toml (comments and layout kept, with tomlkit) or
as a new Falco rules file in the local rules directory. Nothing is written unless the
result validates; the running agent picks the change up by hot reload.

`vigil tune` saves its suggestions with the SHA-256 of the vigil.toml they were made for
(`<state_dir>/tune-report.json`); `--apply` refuses when vigil.toml changed since, so a
suggestion never lands in a file its author did not see.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from vigil.config import parse_config
from vigil.config_errors import ConfigError
from vigil.tuning.suggest import Suggestion

REPORT_FILE = "tune-report.json"


class TuneError(Exception):
    """A suggestion cannot be applied; the message says why (one line)."""


@dataclass
class Change:
    """A write that is ready: where, what, and the diff to show first."""

    path: Path
    old: str
    new: str

    def diff(self) -> str:
        """Unified diff of the change."""
        return "".join(difflib.unified_diff(
            self.old.splitlines(keepends=True), self.new.splitlines(keepends=True),
            fromfile=str(self.path) if self.old else "/dev/null", tofile=str(self.path)))

    def write(self) -> None:
        """Write the new text (atomically: a temporary file renamed over the old one)."""
        tmp = self.path.with_name(f".{self.path.name}.vigil-tune")
        tmp.write_text(self.new)
        tmp.replace(self.path)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_report(state_dir: Path, config_path: Path | None,
                suggestions: list[Suggestion]) -> Path:
    """Remember the suggestions and the configuration they were made for."""
    state_dir.mkdir(parents=True, exist_ok=True)
    out = state_dir / REPORT_FILE
    doc = {"created": time.time(),
           "config": str(config_path) if config_path else None,
           "config_sha256": sha256_of(config_path) if config_path else None,
           "suggestions": [s.document() for s in suggestions]}
    out.write_text(json.dumps(doc, indent=1))
    return out


def load_suggestion(state_dir: Path, number: int,
                    config_path: Path | None) -> dict[str, Any]:
    """Suggestion `number` of the saved report; TuneError when there is none, when it
    was made for another configuration, or when the configuration changed since."""
    path = state_dir / REPORT_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise TuneError(f"no tuning report in {state_dir}: run `vigil tune` first") from None
    except (OSError, ValueError) as exc:
        raise TuneError(f"{path}: unreadable tuning report ({exc}); run `vigil tune` "
                        "again") from None
    if config_path is None:
        raise TuneError("--apply needs the vigil.toml to change (-c PATH)")
    if doc.get("config") != str(config_path):
        raise TuneError(f"the report was made for {doc.get('config')}, not {config_path}; "
                        "run `vigil tune` again")
    if doc.get("config_sha256") != sha256_of(config_path):
        raise TuneError(f"{config_path} changed since the report was made; run `vigil tune` "
                        "again and choose from the new suggestions")
    for s in doc.get("suggestions", []):
        if s.get("number") == number:
            return s
    raise TuneError(f"no suggestion {number} in the report (there are "
                    f"{len(doc.get('suggestions', []))})")


def toml_change(config_path: Path, sug: dict[str, Any]) -> Change:
    """The vigil.toml with the suggestion's entry appended to `[allowlist.rules] suppress`,
    comments and layout kept. TuneError when the result would not validate."""
    old = config_path.read_text()
    doc = tomlkit.parse(old)
    allow = doc.get("allowlist")
    if allow is None:
        allow = tomlkit.table()
        doc["allowlist"] = allow
    rules = allow.get("rules")
    if rules is None:
        rules = tomlkit.table()
        allow["rules"] = rules
    suppress = rules.get("suppress")
    if suppress is None:
        suppress = tomlkit.array()
        suppress.multiline(True)
        rules["suppress"] = suppress
    entry = tomlkit.inline_table()
    entry["value"] = sug["value"]
    for dim, values in sug.get("scope", {}).items():
        entry[dim] = list(values)
    entry["reason"] = "TODO: say why this is normal on this host"
    suppress.append(entry)
    new = tomlkit.dumps(doc)
    try:
        parse_config(new, config_path)
    except ConfigError as exc:
        raise TuneError(f"the result would not be a valid configuration: {exc}") from None
    return Change(config_path, old, new)


def falco_change(config_path: Path, sug: dict[str, Any]) -> Change:
    """A new Falco rules file with the suggestion's exception, in the configured local
    rules directory. TuneError when the rule is not a Falco rule, when no local rules
    directory is loaded by the configuration, or when the rules would not load."""
    from vigil.rules.falco.loader import load_rules

    if not sug.get("falco_yaml"):
        raise TuneError("this suggestion has no Falco form (not a Falco rule, or no scope)")
    cfg = parse_config(config_path.read_text(), config_path)
    local = cfg.rules.local_rules_dir
    if local is None:
        raise TuneError("no local rules directory: set [rules] local_rules_dir (and list it "
                        "in [rules] falco) to write Falco exceptions")
    if str(local) not in cfg.rules.falco:
        raise TuneError(f"{local} is not in [rules] falco: a file written there would not "
                        "be loaded; add it after the rule files it amends")
    slug = re.sub(r"[^a-z0-9]+", "-", sug["value"].lower()).strip("-")[:48] or "rule"
    target = Path(local) / f"vigil-tune-{slug}.yaml"
    n = 2
    while target.exists():
        target = Path(local) / f"vigil-tune-{slug}-{n}.yaml"
        n += 1
    text = ("# written by `vigil tune --apply`: an exception for a rule that is normal in the\n"
            "# context below; fill in why, and keep this file under review\n"
            + sug["falco_yaml"])
    files = [f for f in cfg.rules.falco_files()]
    Path(local).mkdir(parents=True, exist_ok=True)
    probe = Path(local) / f".{target.name}.check"
    probe.write_text(text)
    try:
        rs = load_rules([*files, probe])
    finally:
        probe.unlink(missing_ok=True)
    if not rs.ok:
        raise TuneError("the rules would not load with it: "
                        + "; ".join(str(e) for e in rs.errors[:3]))
    return Change(target, "", text)
