"""Where rules come from: Vigil's embedded defaults, Falco files and Sigma files.

Users name rules by path (files or directories) in `vigil.toml` or on the command line;
`builtin` names Vigil's own default rules shipped inside the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from vigil.config import BUILTIN_RULES as BUILTIN
from vigil.config import BUILTIN_RULES_FILE as DEFAULT_RULES


def resolve_falco_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Turn configured Falco rule paths into real paths (`builtin` → the default rules)."""
    return [DEFAULT_RULES if str(p) == BUILTIN else Path(p) for p in paths]


def is_sigma_file(path: Path) -> bool:
    """A YAML file whose top level is a mapping with `detection:` is a Sigma rule; a Falco
    rules file is a YAML sequence."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                s = line.strip()
                if not s or s.startswith("#") or s == "---":
                    continue
                if s.startswith("- "):
                    return False
                break
            else:
                return False
            fh.seek(0)
            return any(line.startswith("detection:") for line in fh)
    except OSError:
        return False


@dataclass
class RulePaths:
    """Rule paths split by language."""

    falco: list[Path] = field(default_factory=list)
    sigma: list[Path] = field(default_factory=list)


def classify_paths(paths: Iterable[str | Path]) -> RulePaths:
    """Sort files and directories into Falco and Sigma rules by looking at each file."""
    out = RulePaths()
    for p in resolve_falco_paths(paths):
        if p.is_dir():
            files = sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml") and x.is_file())
            sig = [f for f in files if is_sigma_file(f)]
            if sig:
                out.sigma.append(p)
            out.falco.extend(f for f in files if f not in sig and p == f.parent)
        elif is_sigma_file(p):
            out.sigma.append(p)
        else:
            out.falco.append(p)
    return out
