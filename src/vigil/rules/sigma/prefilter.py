"""Necessary-condition keys that let the engine skip rules that cannot match an event.

Most Sigma rules require one specific program, path or literal: `Image|endswith: '/wget'`,
auditd's `a0: chmod`, `name: /etc/ld.so.preload`, `TargetFilename|startswith:
'/etc/cron.d/'`, a keyword such as `'bash -i >& /dev/tcp/'`. From a rule's condition tree
we derive, once, a set of `(kind, key)` pairs of which an event must have at least one for
the rule to be able to match (a *necessary* condition, never a sufficient one). At run
time the engine computes the event's keys of the kinds its bucket uses, looks them up, and
evaluates only the rules found plus the rules with no keys; the compiled predicate still
decides every match. This is the Sigma counterpart of Falco's event-type index, one level
finer.

Keys are lower-cased (Sigma compares case-insensitively). Kinds:
- exact: the field's whole value (`=`, `iequals`, `in`);
- path: `=<path>`, `$<basename>` (ends with `/<basename>`), `^<dir>` (starts with `<dir>/`);
  an event has `=path`, `$basename` and `^dir` for its ancestor directories (only the
  depths the bucket's rules name are looked up);
- substring: literals a command line or log line (or argv[0], the executable path, a file
  path) must contain; all of a bucket's literals are found in one Aho-Corasick pass over
  the lower-cased text (pyahocorasick).
Kinds are ranked: hash lookups on selective values first, text searches next, values most
events share (`evt.is_open_write`) last; inside an `and` the best-ranked keys are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import ahocorasick

from vigil.events.fields import DEFAULT_FIELDS, EXPR_GLOBALS
from vigil.events.model import Event
from vigil.rules.ast import And, Compare, Const, FieldRef, ListValue, Node, Not, Or, Value
from vigil.rules.sigma.translate import simplify

_EQ = frozenset({"=", "==", "iequals", "in"})
_START = frozenset({"startswith", "istartswith"})
_END = frozenset({"endswith", "iendswith"})
_CONTAINS = frozenset({"contains", "icontains"})
_LOWER = ("tolower",)

#: a rule's keys: (kind name, key) pairs
Keys = frozenset[tuple[str, str]]


def literals(c: Compare, field: FieldRef, ops: frozenset[str]) -> list[str] | None:
    """The literals `c` compares `field` with when it is "field <op> any of these", else
    None. Accepts the plain field and `tolower(field)`; `in`, single values and `anyof`."""
    f = c.field
    if not isinstance(f, FieldRef) or f.name != field.name or f.arg != field.arg \
            or f.transformers not in ((), _LOWER) or c.op not in ops:
        return None
    v = c.value
    if isinstance(v, Value) and c.quantifier is None and c.op != "in":
        return [v.text]
    if isinstance(v, ListValue) and (c.op == "in" or c.quantifier == "anyof"):
        return [i.text for i in v.items]
    return None


Table = dict[str, tuple[int, ...]]
Probe = Callable[[Event], "list[tuple[int, ...]]"]
#: distinct values remembered per probe (paths and command lines repeat a lot)
MEMO_SIZE = 8192


def memoized(get: Callable[[Event], object],
             compute: Callable[[str], "list[tuple[int, ...]]"]) -> Probe:
    """A probe that reads a value with `get` and remembers `compute`'s answer per value.

    The memo is bounded: it is emptied when full, so memory stays flat however many
    distinct values go by.
    """
    memo: dict[object, list[tuple[int, ...]]] = {}

    def probe(e: Event) -> list[tuple[int, ...]]:
        v = get(e)
        if not v:
            return []
        hit = memo.get(v)
        if hit is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            hit = memo[v] = compute(str(v))
        return hit

    return probe


@dataclass(frozen=True)
class KeyKind:
    """One thing the index can key on.

    `keys_of` gives the keys a comparison forces (None: it says nothing about this kind);
    `prober(table)` builds, for one bucket's table of key -> rule indexes, the function
    that returns the table entries an event hits.
    """

    name: str
    keys_of: Callable[[Compare], frozenset[str] | None]
    prober: Callable[[Table], Probe]
    #: 0: a hash lookup on a value most events do not share; 1: a text search;
    #: 2: a value most events share (weak); lower ranks are preferred inside an `and`
    rank: int = 0
    #: the rank of a particular key set, when it depends on the keys
    rank_of: Callable[[frozenset[str]], int] | None = None


def _all_or_none(items: list[str] | None, key: Callable[[str], str | None]
                 ) -> frozenset[str] | None:
    if items is None:
        return None
    keys = [key(t) for t in items]
    return None if any(k is None for k in keys) else frozenset(keys)  # type: ignore[misc]


def fast_getter(field: FieldRef) -> Callable[[Event], object]:
    """A one-argument getter for a field: the registry's inlinable expression when it has
    one (`e.proc.exepath`), else its extractor."""
    fdef, arg = DEFAULT_FIELDS.resolve(field.name, field.arg)
    if fdef.expr is not None and arg is None:
        return eval(f"lambda e: {fdef.expr}", dict(EXPR_GLOBALS))  # noqa: S307 - registry text
    return DEFAULT_FIELDS.extractor(field.name, field.arg)


def _key_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v).lower()


def exact_kind(name: str, field: FieldRef, rank: int = 0) -> KeyKind:
    """Keys on a field's whole value (compared with =, iequals or in)."""
    get = fast_getter(field)

    def prober(table: Table) -> Probe:
        look = table.get

        def probe(e: Event) -> list[tuple[int, ...]]:
            v = get(e)
            h = look(_key_text(v)) if v is not None else None
            return [h] if h else []

        return probe

    return KeyKind(name, lambda c: _all_or_none(literals(c, field, _EQ), str.lower),
                   prober, rank)


def path_kind(name: str, fields: tuple[FieldRef, ...],
              get: Callable[[Event], object] | None = None) -> KeyKind:
    """Keys on path fields: equality, `/basename` suffixes and directory prefixes.

    With several fields, `get` returns their distinct values joined by NUL (no path holds
    one), and an event's keys are those of every value.
    """
    get = get or fast_getter(fields[0])

    def suffix(t: str) -> str | None:
        return "$" + t.rsplit("/", 1)[-1].lower() if "/" in t and not t.endswith("/") else None

    def prefix(t: str) -> str | None:
        d = t[: t.rfind("/")] if t.startswith("/") else ""
        return "^" + d.lower() if d else None

    def keys_of(c: Compare) -> frozenset[str] | None:
        for field in fields:
            hit = (_all_or_none(literals(c, field, _EQ), lambda t: "=" + t.lower())
                   or _all_or_none(literals(c, field, _END), suffix)
                   or _all_or_none(literals(c, field, _START), prefix))
            if hit is not None:
                return hit
        return None

    def prober(table: Table) -> Probe:
        look = table.get
        # "^/etc/cron.d" is the ancestor made of the path's first 2 components
        depths = frozenset(k.count("/") for k in table if k.startswith("^"))
        deepest = max(depths, default=0)
        has_eq = any(k.startswith("=") for k in table)
        has_base = any(k.startswith("$") for k in table)

        def compute(v: str) -> list[tuple[int, ...]]:
            if "\0" in v:
                return [h for part in v.split("\0") for h in compute(part)]
            p = v.lower()
            out = []
            if has_eq:
                h = look("=" + p)
                if h:
                    out.append(h)
            if has_base:
                h = look("$" + p[p.rfind("/") + 1:])
                if h:
                    out.append(h)
            i, n = 0, 0
            while n < deepest:
                i = p.find("/", i + 1)
                if i == -1:
                    break
                n += 1
                if n in depths:
                    h = look("^" + p[:i])
                    if h:
                        out.append(h)
            return out

        return memoized(get, compute)

    return KeyKind(name, keys_of, prober, rank_of=_path_rank)


#: top-level directories under which most paths of an event stream lie
COMMON_DIRS = frozenset({"^/etc", "^/usr", "^/tmp", "^/var", "^/home", "^/proc", "^/sys",
                         "^/bin", "^/lib", "^/opt", "^/dev", "^/run", "^/root", "^/srv"})


def _path_rank(keys: frozenset[str]) -> int:
    """Weak when one key is just "below /etc" (or another common top-level directory)."""
    return 2 if keys & COMMON_DIRS else 0


#: words found in most command lines and log lines: as a whole literal, a poor key
COMMON_WORDS = frozenset({
    "bin", "usr", "sbin", "tmp", "dev", "etc", "var", "lib", "opt", "run", "sys", "proc",
    "home", "root", "local", "share", "log", "sh", "bash", "http", "https", "www", "com",
    "user", "from", "for", "port", "the", "and", "null",
})
_TEXT_FIELDS = (FieldRef("proc.cmdline"), FieldRef("proc.exeline"), FieldRef("evt.text"))


def literal_rank(keys: frozenset[str]) -> int:
    """1 for literals that few texts contain; 2 (weak) when one of them is one or two
    characters (":", "dd") or only a common word ("/tmp/", " bash")."""
    for k in keys:
        core = k.strip(" /-.=:;,'\"")
        if len(k) < 3 or core in COMMON_WORDS:
            return 2
    return 1


#: argv entries after argv[0] are pieces of the command line (name, space, arguments)
_ARGV_FIELDS = tuple(FieldRef("proc.argv", str(i)) for i in range(1, 8))
_ANY_TEXT = _CONTAINS | _START | _END | _EQ


def file_identity(e: Event) -> str | None:
    """audit.path, and fd.name too when it differs (joined by NUL, which no literal holds),
    so one search serves rules on either field."""
    a = _AUDIT_PATH(e)
    f = e.fd.name if e.fd is not None else None
    if f is None or f == a:
        return a
    return f if a is None else f"{a}\0{f}"


_AUDIT_PATH = DEFAULT_FIELDS.extractor("audit.path")


def _event_text(e: Event) -> str | None:
    """Everything `evt.text`, `proc.cmdline`, `proc.exeline` and argv[1:] can hold: the raw
    line and the command lines (joined by NUL, which no literal holds), or what exists.
    The two command lines differ only in their first word (comm or argv[0])."""
    p = e.proc
    cmd = p.cmdline()
    exe = p.exe
    if exe is not None and exe != p.name:
        line = " ".join((exe, *p.args)) if p.args else exe
        cmd = line if cmd is None else f"{cmd}\0{line}"
    raw = e.raw
    if raw is None:
        return cmd
    return raw if cmd is None else f"{raw}\0{cmd}"


def substring_kind(name: str, fields: tuple[FieldRef, ...],
                   text: Callable[[Event], object]) -> KeyKind:
    """Keys on literals a text must contain, all found in one pass (Aho-Corasick).

    Any literal of a contains/startswith/endswith/equals comparison is a substring of the
    value, so the rule needs one of its literals to occur in the (lower-cased) text. The
    automaton reports every occurrence, overlapping ones included.
    """

    def keys_of(c: Compare) -> frozenset[str] | None:
        for field in fields:
            hit = _all_or_none(literals(c, field, _ANY_TEXT),
                               lambda t: t.lower() if t else None)
            if hit is not None:
                return hit
        return None

    def prober(table: Table) -> Probe:
        automaton = ahocorasick.Automaton()
        for k, rules in table.items():
            automaton.add_word(k, rules)
        automaton.make_automaton()
        find = automaton.iter

        def compute(v: str) -> list[tuple[int, ...]]:
            return [rules for _end, rules in find(v.lower())]

        return memoized(text, compute)

    return KeyKind(name, keys_of, prober, rank=1, rank_of=literal_rank)


def _first_word(t: str) -> str | None:
    first, sep, _rest = t.partition(" ")
    return first.lower() if sep and first else None


def _name_keys(c: Compare) -> frozenset[str] | None:
    """proc.name equality, or a command line starting with `<name> ...`.

    `proc.cmdline` is the name, a space and the arguments, so a command line that starts
    with "sh -c " has the name "sh" (or a name that itself starts with "sh ").
    """
    hit = _all_or_none(literals(c, FieldRef("proc.name"), _EQ), str.lower)
    if hit is not None:
        return hit
    return _all_or_none(literals(c, FieldRef("proc.cmdline"), _START), _first_word)


def _argv0_keys(c: Compare) -> frozenset[str] | None:
    """argv[0] equality, or a full command line starting with `<argv0> ...`
    (`proc.exeline` is argv[0], a space and the arguments)."""
    hit = _all_or_none(literals(c, FieldRef("proc.argv", "0"), _EQ), str.lower)
    if hit is not None:
        return hit
    return _all_or_none(literals(c, FieldRef("proc.exeline"), _START), _first_word)


def _argv0_prober(table: Table) -> Probe:
    look = table.get

    def probe(e: Event) -> list[tuple[int, ...]]:
        a = e.proc.exe
        if not a:
            return []
        low = a.lower()
        out = [h for h in (look(low),) if h]
        if " " in low:  # argv[0] may itself hold spaces
            h = look(low.split(" ", 1)[0])
            if h:
                out.append(h)
        return out

    return probe


def _name_prober(table: Table) -> Probe:
    look = table.get

    def probe(e: Event) -> list[tuple[int, ...]]:
        n = e.proc.name
        if not n:
            return []
        low = n.lower()
        out = [h for h in (look(low),) if h]
        if " " in low:
            h = look(low.split(" ", 1)[0])
            if h:
                out.append(h)
        return out

    return probe


#: the event types a condition requires (buckets are per type, so this is used when a rule
#: is compiled, to narrow its routing, not as an index kind)
EVENT_TYPE_KIND = exact_kind("evt.type", FieldRef("evt.type"))

KEY_KINDS: tuple[KeyKind, ...] = (
    KeyKind("proc.name", _name_keys, _name_prober),
    path_kind("proc.exepath", (FieldRef("proc.exepath"),)),
    path_kind("proc.pexepath", (FieldRef("proc.pexepath"),)),
    KeyKind("proc.argv0", _argv0_keys, _argv0_prober),
    exact_kind("proc.cwd", FieldRef("proc.cwd")),
    exact_kind("log.program", FieldRef("log.program")),
    path_kind("file.path", (FieldRef("fd.name"), FieldRef("audit.path")), file_identity),
    exact_kind("audit.nametype", FieldRef("audit.nametype"), rank=2),
    exact_kind("evt.is_open_write", FieldRef("evt.is_open_write"), rank=2),
    exact_kind("user.euid", FieldRef("user.euid")),
    exact_kind("audit.stopped_unit", FieldRef("audit.stopped_unit")),
    substring_kind("substr.text", _TEXT_FIELDS + _ARGV_FIELDS, _event_text),
    substring_kind("substr.argv0", (FieldRef("proc.argv", "0"),),
                   DEFAULT_FIELDS.extractor("proc.argv", "0")),
    substring_kind("substr.exepath", (FieldRef("proc.exepath"),),
                   fast_getter(FieldRef("proc.exepath"))),
    substring_kind("substr.path", (FieldRef("audit.path"), FieldRef("fd.name")),
                   file_identity),
)
KINDS_BY_NAME = {k.name: k for k in KEY_KINDS}
#: kinds whose keys depend only on the process (and its parent's executable); their probes
#: are run together and remembered per process identity, which repeats across events
PROCESS_KINDS = frozenset({"proc.name", "proc.exepath", "proc.pexepath", "proc.argv0",
                           "proc.cwd", "user.euid", "substr.argv0", "substr.exepath"})


def process_identity(e: Event) -> tuple[object, ...]:
    """Everything the `PROCESS_KINDS` read."""
    p = e.proc
    parent = p.parent
    return (p.name, p.exepath, p.exe, p.cwd, p.euid,
            parent.exepath if parent is not None else None)


#: kinds that read only the file path(s) of the event (`file_identity`)
FILE_KINDS = frozenset({"file.path", "substr.path"})


def combined_probe(probes: list[Probe], identity: Callable[[Event], object]) -> Probe:
    """One probe for several kinds that read the same things, remembered per `identity`
    (`process_identity` for `PROCESS_KINDS`, `file_identity` for `FILE_KINDS`)."""
    memo: dict[object, list[tuple[int, ...]]] = {}

    def probe(e: Event) -> list[tuple[int, ...]]:
        key = identity(e)
        hit = memo.get(key)
        if hit is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            hit = memo[key] = [h for pr in probes for h in pr(e)]
        return hit

    return probe


@dataclass(frozen=True)
class RuleKeys:
    """A rule's necessary keys and the worst rank among their kinds."""

    keys: Keys
    rank: int

    def score(self) -> tuple[int, int]:
        """Smaller is more selective: better rank first, then fewer keys."""
        return (self.rank, len(self.keys))


def _compare_keys(c: Compare, kinds: Iterable[KeyKind]) -> RuleKeys | None:
    best: RuleKeys | None = None
    for kind in kinds:
        k = kind.keys_of(c)
        if k is not None:
            rank = kind.rank_of(k) if kind.rank_of is not None else kind.rank
            cand = RuleKeys(frozenset((kind.name, v) for v in k), rank)
            if best is None or cand.score() < best.score():
                best = cand
    return best


def necessary_keys(node: Node, kinds: Iterable[KeyKind] = KEY_KINDS) -> RuleKeys | None:
    """Keys one of which an event needs for `node` to hold; None when unconstrained."""
    kinds = tuple(kinds)
    if isinstance(node, Compare):
        return _compare_keys(node, kinds)
    if isinstance(node, Const):
        return None if node.value else RuleKeys(frozenset(), 0)
    if isinstance(node, And):
        best: RuleKeys | None = None
        for c in node.children:
            k = necessary_keys(c, kinds)
            if k is not None and (best is None or k.score() < best.score()):
                best = k
        return best
    if isinstance(node, Or):
        acc: set[tuple[str, str]] = set()
        rank = 0
        for c in node.children:
            k = necessary_keys(c, kinds)
            if k is None:
                return None
            acc |= k.keys
            rank = max(rank, k.rank)
        return RuleKeys(frozenset(acc), rank)
    return None  # Not, Ident: no constraint that can be indexed


def required_event_types(node: Node) -> frozenset[str] | None:
    """Event types a condition requires (`evt.type iequals x`, `in (...)`), or None."""
    k = necessary_keys(node, (EVENT_TYPE_KIND,))
    return None if k is None else frozenset(v for _kind, v in k.keys)


def specialize_event_type(node: Node, etype: str) -> Node:
    """`node` for events of type `etype` only: `evt.type` comparisons become constants.

    Used per bucket, so that e.g. the EXECVE branch of an auditd rule adds no keys to the
    `openat` bucket.
    """

    def walk(n: Node) -> Node:
        if isinstance(n, Compare):
            types = literals(n, FieldRef("evt.type"), _EQ)
            if types is None:
                return n
            if n.op == "iequals" or isinstance(n.field, FieldRef) and n.field.transformers:
                return Const(etype.lower() in {t.lower() for t in types})
            return Const(etype in types)
        if isinstance(n, Not):
            return Not(walk(n.child))
        if isinstance(n, (And, Or)):
            return type(n)(tuple(walk(c) for c in n.children))
        return n

    return simplify(walk(node))
