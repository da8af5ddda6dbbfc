"""Reading Sigma rule files: YAML with `yaml.CSafeLoader`, parsed by pySigma.

pySigma's own YAML loader is several times slower than handing it dicts read with the C
loader, so files are read here and each document goes to `SigmaRule.from_dict` (or
`SigmaFilter.from_dict` for Sigma filters, which are applied to the rules they name).
Every problem becomes a `SigmaLoadError` with the file, the document number and the rule
id when there is one; a bad file never stops the others from loading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule


@dataclass(frozen=True)
class SigmaLoadError:
    """A file or document that could not be parsed into a rule."""

    path: str
    message: str
    rule_id: str | None = None
    #: 1-based YAML document number in the file (multi-document files)
    document: int | None = None

    def __str__(self) -> str:
        where = self.path if self.document in (None, 1) else f"{self.path} (document " \
                                                              f"{self.document})"
        rid = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{where}{rid}: {self.message}"


@dataclass
class ParsedSigmaRule:
    """A rule parsed by pySigma, with the file it came from."""

    rule: SigmaRule
    path: str

    @property
    def rule_id(self) -> str:
        """The rule's id (its title when it has none, as pySigma allows)."""
        return str(self.rule.id) if self.rule.id is not None else self.rule.title


@dataclass
class SigmaParseResult:
    """What reading a set of paths gave: rules, filters and errors."""

    rules: list[ParsedSigmaRule] = field(default_factory=list)
    filters: list[SigmaFilter] = field(default_factory=list)
    errors: list[SigmaLoadError] = field(default_factory=list)


def iter_rule_files(paths: Iterable[str | os.PathLike[str]]) -> Iterable[tuple[Path, str | None]]:
    """Yield `(file, None)` for each YAML file under `paths` (sorted), or `(path, error)`.

    A directory is searched recursively for `*.yml` and `*.yaml`; a missing path is an
    error, not silence.
    """
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.suffix in (".yml", ".yaml")
                           and f.is_file())
            yield from ((f, None) for f in files)
        elif path.is_file():
            yield path, None
        else:
            yield path, "no such file or directory"


def parse_paths(paths: Iterable[str | os.PathLike[str]]) -> SigmaParseResult:
    """Read and parse every Sigma rule and filter under `paths`; filters are applied."""
    out = SigmaParseResult()
    for path, problem in iter_rule_files(paths):
        if problem is not None:
            out.errors.append(SigmaLoadError(str(path), problem))
            continue
        _parse_file(path, out)
    for rule in out.rules:
        for flt in out.filters:
            try:
                flt.apply_on_rule(rule.rule)
            except (SigmaError, ValueError, KeyError) as exc:
                out.errors.append(SigmaLoadError(rule.path, f"filter {flt.title!r}: {exc}",
                                                 rule.rule_id))
    return out


def _parse_file(path: Path, out: SigmaParseResult) -> None:
    try:
        with open(path, "rb") as fh:
            docs = list(yaml.load_all(fh, Loader=yaml.CSafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        out.errors.append(SigmaLoadError(str(path), f"cannot read YAML: {exc}"))
        return
    for n, doc in enumerate(docs, 1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            out.errors.append(SigmaLoadError(str(path), "a Sigma document must be a mapping",
                                             document=n))
            continue
        _parse_doc(path, n, doc, out)


def _parse_doc(path: Path, n: int, doc: dict[str, Any], out: SigmaParseResult) -> None:
    rid = str(doc["id"]) if doc.get("id") is not None else None
    if "correlation" in doc:
        out.errors.append(SigmaLoadError(str(path), "correlation rules are not supported",
                                         rid, n))
        return
    if "action" in doc:
        out.errors.append(SigmaLoadError(str(path), f"rule collections (action: "
                                                    f"{doc['action']}) are not supported",
                                         rid, n))
        return
    try:
        if "filter" in doc and "detection" not in doc:
            out.filters.append(SigmaFilter.from_dict(doc))
            return
        rule = SigmaRule.from_dict(doc, collect_errors=True)
    except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as exc:
        out.errors.append(SigmaLoadError(str(path), str(exc), rid, n))
        return
    if rule.errors:
        msg = "; ".join(str(e) for e in rule.errors)
        out.errors.append(SigmaLoadError(str(path), msg, rid, n))
        return
    out.rules.append(ParsedSigmaRule(rule, str(path)))
