"""Scenarios: executable scripts under `attacks/` and `benign/` with a comment header.

A header is the block of `#` comment lines at the top of the script (after the shebang):

    # vigil-emulation: attack
    # technique: T1059.004 Command and Scripting Interpreter: Unix Shell
    # tactic: execution
    # what: bash connects an interactive shell to a listener the scenario runs on
    #   127.0.0.1 and the listener drives `id`, `uname -a` through it.
    # report: a reverse shell: bash whose stdin and stdout are one TCP socket
    # expect: reverse shell|reverse_shell
    # timeout: 60

A line `#   text` (two or more spaces after `#`) continues the previous key. `technique`
may repeat or list several techniques separated by `;`; `tactic` lists tactics separated
by `,`. For an attack, `expect` is the set of acceptable behaviour keywords (`|`
separated), matched case-insensitively against incident titles and detection names; a
benign scenario says `expect: none`, and `technique`/`tactic` name what it resembles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("attack", "benign")
#: ATT&CK's Enterprise tactics in matrix order (the scorecard sorts by it)
TACTICS = ("reconnaissance", "resource-development", "initial-access", "execution",
           "persistence", "privilege-escalation", "defense-evasion", "credential-access",
           "discovery", "lateral-movement", "collection", "command-and-control",
           "exfiltration", "impact")
REQUIRED_KEYS = ("vigil-emulation", "technique", "tactic", "what", "report", "expect")
KNOWN_KEYS = frozenset(REQUIRED_KEYS + ("timeout",))
DEFAULT_TIMEOUT = 120.0
_TECHNIQUE = re.compile(r"^(T\d{4}(?:\.\d{3})?)\s+(\S.*)$")
_KEY_LINE = re.compile(r"^#\s?([a-z][a-z-]*):\s*(.*)$")


class HeaderError(ValueError):
    """A scenario's header is missing a key or has an invalid value."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class Technique:
    """One ATT&CK technique: `T1059.004` and its name."""

    id: str
    name: str


@dataclass(frozen=True)
class Scenario:
    """One emulation script and what its header declares."""

    name: str
    path: Path
    kind: str
    techniques: tuple[Technique, ...]
    tactics: tuple[str, ...]
    what: str
    report: str
    #: acceptable behaviour keywords (attacks); empty for benign scenarios
    expect: tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_attack(self) -> bool:
        """True for an attack, False for a benign look-alike."""
        return self.kind == "attack"


def read_header(path: Path) -> dict[str, str]:
    """The `key: value` pairs of the comment block at the top of `path`."""
    pairs: dict[str, str] = {}
    last: str | None = None
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh):
            line = raw.rstrip("\n")
            if n == 0 and line.startswith("#!"):
                continue
            if not line.startswith("#"):
                break
            if line.startswith("#  ") and last is not None:
                pairs[last] += " " + line[1:].strip()
                continue
            m = _KEY_LINE.match(line)
            if m is None:
                last = None
                continue
            key, value = m.group(1), m.group(2).strip()
            if key in pairs and key == "technique":
                pairs[key] += "; " + value
            elif key in pairs:
                raise HeaderError(path, f"key {key!r} given twice")
            else:
                pairs[key] = value
            last = key
    return pairs


def parse_expect(value: str) -> tuple[str, ...]:
    """`reverse shell|reverse_shell` → the keywords; `none` → ()."""
    if value.strip().lower() == "none":
        return ()
    return tuple(k.strip() for k in value.split("|") if k.strip())


def parse_techniques(path: Path, value: str) -> tuple[Technique, ...]:
    """`T1059.004 Unix Shell; T1105 Ingress Tool Transfer` → techniques."""
    out = []
    for part in value.split(";"):
        m = _TECHNIQUE.match(part.strip())
        if m is None:
            raise HeaderError(path, f"technique {part.strip()!r} is not 'Tnnnn[.nnn] Name'")
        out.append(Technique(m.group(1), m.group(2).strip()))
    return tuple(out)


def parse_scenario(path: Path) -> Scenario:
    """Read and validate the header of one scenario script."""
    pairs = read_header(path)
    missing = [k for k in REQUIRED_KEYS if not pairs.get(k)]
    if missing:
        raise HeaderError(path, f"header lacks {', '.join(missing)}")
    unknown = sorted(set(pairs) - KNOWN_KEYS)
    if unknown:
        raise HeaderError(path, f"unknown header key(s) {', '.join(unknown)}")
    kind = pairs["vigil-emulation"].strip().lower()
    if kind not in KINDS:
        raise HeaderError(path, f"vigil-emulation must be attack or benign, not {kind!r}")
    tactics = tuple(t.strip().lower() for t in pairs["tactic"].split(",") if t.strip())
    bad = [t for t in tactics if t not in TACTICS]
    if bad or not tactics:
        raise HeaderError(path, f"unknown tactic(s) {bad or pairs['tactic']!r}; use ATT&CK's "
                                f"names: {', '.join(TACTICS)}")
    expect = parse_expect(pairs["expect"])
    if kind == "attack" and not expect:
        raise HeaderError(path, "an attack must expect at least one behaviour keyword")
    if kind == "benign" and expect:
        raise HeaderError(path, "a benign scenario must say `expect: none`")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in pairs:
        try:
            timeout = float(pairs["timeout"])
        except ValueError:
            raise HeaderError(path, f"timeout {pairs['timeout']!r} is not a number") from None
        if timeout <= 0:
            raise HeaderError(path, "timeout must be positive")
    return Scenario(name=path.stem, path=path, kind=kind,
                    techniques=parse_techniques(path, pairs["technique"]), tactics=tactics,
                    what=pairs["what"], report=pairs["report"], expect=expect,
                    timeout=timeout)


def scenario_files(root: Path) -> list[Path]:
    """The scenario scripts under `root/attacks` and `root/benign`, sorted by name."""
    files: list[Path] = []
    for sub in KINDS:
        d = root / ("attacks" if sub == "attack" else "benign")
        if d.is_dir():
            files += sorted(p for p in d.iterdir()
                            if p.is_file() and p.suffix in (".sh", ".py"))
    return files


def discover(root: Path) -> list[Scenario]:
    """Every scenario under `root`, benign ones first (they run before attacks open
    incidents that later activity could join). Raises `HeaderError` on the first bad
    header, or when a script's directory disagrees with its header's kind."""
    out = []
    for path in scenario_files(root):
        sc = parse_scenario(path)
        expected_dir = "attacks" if sc.is_attack else "benign"
        if path.parent.name != expected_dir:
            raise HeaderError(path, f"a {sc.kind} scenario belongs in {expected_dir}/")
        out.append(sc)
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise HeaderError(root, f"scenario names used twice: {', '.join(dupes)}")
    return sorted(out, key=lambda s: (s.is_attack, s.name))
