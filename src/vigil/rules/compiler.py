"""Compile a condition tree into one Python code object.

The tree (from a Falco condition after macro/list expansion, or from a Sigma rule) becomes
the source of one function `def _cond(e): return <expr>`, compiled once with `compile()`.
Hot fields are inlined as attribute access (`e.proc.name`), literals are converted to the
field's type at compile time, `in` uses frozensets and `pmatch` a set of path prefixes, so
evaluating a rule is a few attribute loads and comparisons, short-circuiting left to right.

A field that has no value (`None`) makes every comparison false, `!=` included (Falco).
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import ipaddress
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from vigil.events.fields import DEFAULT_FIELDS, EXPR_GLOBALS, FieldDef, FieldRegistry, FieldType
from vigil.events.fields import UnknownFieldError
from vigil.rules.ast import (
    And, Compare, Const, FieldRef, FieldValue, Getopt, Ident, Join, LeftSide, ListValue, Node,
    Not, Or, Value,
)
from vigil.rules.evttypes import TypeSet, possible_types
from vigil.rules.names import NAME_FIELDS, NameTable

FT = FieldType

_STR_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains",
                      "startswith", "endswith", "glob", "iglob", "regex", "in", "intersects",
                      "pmatch", "exists", "iequals", "istartswith", "iendswith", "sregex",
                      "iregex", "cidr"})
_NUM_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"})
_EQ_OPS = frozenset({"=", "==", "!=", "in", "intersects", "exists"})
#: operators allowed for each field type (Falco's tables; the internal Sigma ops on strings)
ALLOWED_OPS: dict[FieldType, frozenset[str]] = {
    FT.STR: _STR_OPS,
    FT.INT: _NUM_OPS,
    FT.PORT: _NUM_OPS,
    FT.BOOL: _EQ_OPS,
    FT.IPADDR: _EQ_OPS | {"cidr"},
    FT.IPNET: _EQ_OPS | {"cidr"},
    FT.BYTES: frozenset({"=", "==", "!=", "contains", "startswith", "endswith", "bcontains",
                         "bstartswith", "in", "intersects", "exists"}),
}


class CompileError(ValueError):
    """A condition that parses but cannot be compiled (unknown field, bad operator ...)."""


@dataclass
class CompiledCondition:
    """A condition ready to run: `predicate(event) -> bool` and the event types it can match."""

    predicate: Callable[[Any], bool]
    types: TypeSet
    source: str
    warnings: list[str] = field(default_factory=list)

    @property
    def event_types(self) -> frozenset[str] | None:
        """The exact set of event types, or None when the condition is not restricted to
        a finite set (every type, or every type but some)."""
        return None if self.types.negated else self.types.types


# ---------------------------------------------------------------------------------------
# value conversion


def _parse_int(text: str) -> int:
    t = text.strip()
    try:
        return int(t, 0) if t.lower().startswith(("0x", "-0x", "+0x")) else int(t)
    except ValueError:
        raise CompileError(f"'{text}' is not a valid number") from None


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise CompileError(f"'{text}' is not a valid boolean (true or false)")


def _parse_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise CompileError(f"'{text}' is not a valid IP address") from None


def _parse_net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise CompileError(f"'{text}' is not a valid network (CIDR)") from None


def _parse_hex(text: str) -> bytes:
    t = text.strip()
    if len(t) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", t):
        raise CompileError(f"'{text}' is not a valid hex string")
    return bytes.fromhex(t)


def convert(ftype: FieldType, text: str, op: str) -> Any:
    """Convert a literal to the type its field compares with."""
    if op in ("bcontains", "bstartswith"):
        return _parse_hex(text)
    if op == "cidr":
        return _parse_net(text)
    if ftype in (FT.INT, FT.PORT):
        return _parse_int(text)
    if ftype is FT.BOOL:
        return _parse_bool(text)
    if ftype is FT.IPADDR:
        return _parse_ip(text)
    if ftype is FT.IPNET:
        return _parse_net(text)
    if ftype is FT.BYTES:
        return text.encode()
    return text


# ---------------------------------------------------------------------------------------
# scalar tests: one closure per (op, literal); used where code is not inlined


@functools.lru_cache(maxsize=65536)
def _ip(value: str) -> Any:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


_IPNUM_CACHE: dict[Any, tuple[int, int] | None] = {}


def _ipnum(value: Any) -> tuple[int, int] | None:
    """(version, integer) of an address string, cached: network tests are integer masks."""
    hit = _IPNUM_CACHE.get(value, _IPNUM_CACHE)
    if hit is not _IPNUM_CACHE:
        return hit  # type: ignore[return-value]
    ip = _ip(str(value))
    res = None if ip is None else (ip.version, int(ip))
    if len(_IPNUM_CACHE) > 100_000:
        _IPNUM_CACHE.clear()
    _IPNUM_CACHE[value] = res
    return res


def _net_test(nets: list[Any]) -> Callable[[Any], bool]:
    """A fast `address in any of nets` test on address strings."""
    spec = [(n.version, int(n.network_address), int(n.netmask)) for n in nets]

    def inside(v: Any) -> bool:
        x = _ipnum(v)
        if x is None:
            return False
        ver, num = x
        for nver, net, mask in spec:
            if ver == nver and num & mask == net:
                return True
        return False
    return inside


class PathPrefixes:
    """Falco's `pmatch`: is a path equal to, or below, one of a set of directories.

    Checks each ancestor of the path against a set, so the cost is the path depth, not the
    number of prefixes.
    """

    def __init__(self, prefixes: list[str]) -> None:
        self._set = frozenset(p.rstrip("/") or "/" for p in prefixes)

    def __call__(self, path: str) -> bool:
        s = self._set
        if path in s or "/" in s and path.startswith("/"):
            return True
        i = path.find("/", 1)
        while i != -1:
            if path[:i] in s:
                return True
            i = path.find("/", i + 1)
        return path.rstrip("/") in s


def _glob(pattern: str, flags: int = 0) -> Callable[[str], Any]:
    return re.compile(fnmatch.translate(pattern), flags | re.DOTALL).match


def scalar_test(ftype: FieldType, op: str, lit: Any) -> Callable[[Any], bool]:
    """A predicate on one non-None value for `value <op> lit`."""
    if op in ("=", "=="):
        if ftype is FT.IPNET:
            return _net_test([lit])
        return lambda v: v == lit
    if op == "!=":
        if ftype is FT.IPNET:
            inside = _net_test([lit])
            return lambda v: _ipnum(v) is not None and not inside(v)
        return lambda v: v != lit
    if op == "<":
        return lambda v: v < lit
    if op == "<=":
        return lambda v: v <= lit
    if op == ">":
        return lambda v: v > lit
    if op == ">=":
        return lambda v: v >= lit
    if op == "contains":
        return lambda v: lit in v
    if op == "icontains":
        low = lit.lower()
        return lambda v: low in v.lower()
    if op == "startswith":
        return lambda v: v.startswith(lit)
    if op == "endswith":
        return lambda v: v.endswith(lit)
    if op == "iequals":
        low = lit.lower()
        return lambda v: v.lower() == low
    if op == "istartswith":
        low = lit.lower()
        return lambda v: v.lower().startswith(low)
    if op == "iendswith":
        low = lit.lower()
        return lambda v: v.lower().endswith(low)
    if op == "bcontains":
        return lambda v: lit in (v if isinstance(v, bytes) else str(v).encode())
    if op == "bstartswith":
        return lambda v: (v if isinstance(v, bytes) else str(v).encode()).startswith(lit)
    if op == "glob":
        m = _glob(lit)
        return lambda v: m(v) is not None
    if op == "iglob":
        m = _glob(lit, re.IGNORECASE)
        return lambda v: m(v) is not None
    if op == "regex":
        m = _compile_re(lit, 0).fullmatch
        return lambda v: m(v) is not None
    if op == "sregex":
        s = _compile_re(lit, 0).search
        return lambda v: s(v) is not None
    if op == "iregex":
        s = _compile_re(lit, re.IGNORECASE).search
        return lambda v: s(v) is not None
    if op == "cidr":
        return _net_test([lit])
    raise CompileError(f"operator '{op}' has no scalar form")


def _compile_re(pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise CompileError(f"invalid regular expression '{pattern}': {exc}") from None


def _list_test(ftype: FieldType, op: str, lits: list[Any]) -> Callable[[Any], bool]:
    """A predicate on one value for `value in/intersects/pmatch (lits)`."""
    if op == "pmatch":
        return PathPrefixes([str(x) for x in lits])
    if ftype is FT.IPNET:
        return _net_test(lits)
    s = frozenset(lits)
    return lambda v: v in s


# ---------------------------------------------------------------------------------------
# transformers, join, getopt


def _b64(v: Any) -> Any:
    try:
        return base64.b64decode(str(v), validate=True).decode("utf-8", "replace")
    except (ValueError, TypeError):
        return None


TRANSFORMER_FUNCS: dict[str, Callable[[Any], Any]] = {
    "tolower": lambda v: str(v).lower(),
    "toupper": lambda v: str(v).upper(),
    "b64": _b64,
    "basename": lambda v: os.path.basename(str(v)),
    "len": lambda v: len(v) if isinstance(v, (list, str, bytes)) else len(str(v)),
}


def _getopt_value(args: str | list[str] | None, optstring: str, opt: str | None) -> Any:
    if args is None:
        return None
    argv = args.split() if isinstance(args, str) else list(args)
    takes_arg = {c: optstring[i + 1: i + 2] == ":" for i, c in enumerate(optstring) if c != ":"}
    i = 0
    found: dict[str, str] = {}
    while i < len(argv):
        a = argv[i]
        if a == "--":
            break
        if a.startswith("-") and len(a) > 1 and not a.startswith("--"):
            j = 1
            while j < len(a):
                c = a[j]
                if takes_arg.get(c):
                    val = a[j + 1:] or (argv[i + 1] if i + 1 < len(argv) else "")
                    if not a[j + 1:]:
                        i += 1
                    found[c] = val
                    break
                found[c] = ""
                j += 1
        i += 1
    if opt is None:
        return " ".join(f"-{k}{v}" for k, v in found.items()) or None
    return found.get(opt)


# ---------------------------------------------------------------------------------------
# code generation


class _CodeGen:
    def __init__(self, registry: FieldRegistry, names: NameTable | None = None) -> None:
        self.registry = registry
        self.names = names if names is not None else NameTable()
        self.env: dict[str, Any] = dict(EXPR_GLOBALS)
        self.n = 0
        self.warnings: list[str] = []
        #: in a bucket function, each field is extracted at most once per event:
        #: field text -> local name holding its value (`_U` until computed)
        self.memo: dict[str, str] | None = None

    def bind(self, value: Any, prefix: str = "_c") -> str:
        self.n += 1
        name = f"{prefix}{self.n}"
        self.env[name] = value
        return name

    def tmp(self) -> str:
        self.n += 1
        return f"_v{self.n}"

    # -- fields -----------------------------------------------------------------------------

    def resolve(self, ref: FieldRef) -> tuple[FieldDef, str | None]:
        try:
            return self.registry.resolve(ref.name, ref.arg)
        except UnknownFieldError as exc:
            raise CompileError(str(exc.args[0])) from None

    def value_getter(self, left: LeftSide) -> tuple[Callable[[Any], Any], FieldType]:
        """A callable computing the left side's value (transformers applied) and its type."""
        if isinstance(left, FieldRef):
            fd, arg = self.resolve(left)
            ex = fd.extract
            ftype = fd.type_for(arg)
            base: Callable[[Any], Any] = lambda e: ex(e, arg)
        elif isinstance(left, Join):
            parts = [self.join_part(i) for i in left.items]
            sep = left.sep

            def base(e: Any) -> Any:
                vals = [p(e) for p in parts]
                if any(v is None for v in vals):
                    return None
                return sep.join(str(v) for v in vals)

            ftype = FT.STR
        else:
            getter, _t = self.value_getter(left.field)
            opts, opt = left.optstring, left.arg
            base = lambda e: _getopt_value(getter(e), opts, opt)
            ftype = FT.STR
        if not left.transformers:
            return base, ftype
        funcs = [TRANSFORMER_FUNCS[t] for t in reversed(left.transformers)]

        def transformed(e: Any) -> Any:
            v = base(e)
            for f in funcs:
                if v is None:
                    return None
                v = f(v)
            return v

        return transformed, (FT.INT if left.transformers[0] == "len" else FT.STR)

    def join_part(self, item: FieldRef | Join | Value) -> Callable[[Any], Any]:
        if isinstance(item, Value):
            text = item.text
            return lambda e: text
        return self.value_getter(item)[0]

    def left_code(self, left: LeftSide) -> tuple[str, FieldType, FieldType]:
        """Python expression for the left side, its compare type and element type."""
        code, ftype, elem = self._left_code(left)
        if self.memo is None:
            return code, ftype, elem
        key = left.text()
        name = self.memo.get(key)
        if name is None:
            name = self.memo[key] = f"_h{len(self.memo)}"
        # computed on first use in this call, reused by every later rule of the bucket
        return f"({name} if {name} is not _U else ({name} := {code}))", ftype, elem

    def _left_code(self, left: LeftSide) -> tuple[str, FieldType, FieldType]:
        if isinstance(left, FieldRef) and not left.transformers:
            fd, arg = self.resolve(left)
            ftype = fd.type_for(arg)
            if fd.expr is not None and arg is None:
                return f"({fd.expr})", ftype, fd.type
            if fd.expr_fn is not None and arg is not None:
                code = fd.expr_fn(arg)
                if code is not None:
                    return f"({code})", ftype, fd.type
            # one direct call of the extractor with its argument as a literal
            name = self.bind(fd.extract, "_x")
            return f"{name}(e, {arg!r})", ftype, fd.type
        getter, ftype = self.value_getter(left)
        return f"{self.bind(getter, '_f')}(e)", ftype, ftype

    # -- nodes ------------------------------------------------------------------------------

    def node(self, n: Node) -> str:
        if isinstance(n, Compare):
            return self.compare(n)
        if isinstance(n, And):
            return "(" + " and ".join(self.node(c) for c in n.children) + ")"
        if isinstance(n, Or):
            return "(" + " or ".join(self.node(c) for c in n.children) + ")"
        if isinstance(n, Not):
            return f"(not {self.node(n.child)})"
        if isinstance(n, Const):
            return "True" if n.value else "False"
        if isinstance(n, Ident):
            raise CompileError(f"undefined macro '{n.name}' used in filter")
        raise CompileError(f"unexpected node {n!r}")

    def compare(self, c: Compare) -> str:
        f = c.field
        if (isinstance(f, FieldRef) and f.name in NAME_FIELDS and not f.transformers
                and f.arg is None and c.quantifier is None
                and c.op in ("=", "==", "!=", "in", "intersects")
                and isinstance(c.value, (Value, ListValue))):
            return self.name_compare(c)
        lhs, ftype, elem = self.left_code(c.field)
        op = c.op
        is_list = ftype is FT.LIST
        check_type = elem if is_list else ftype
        allowed = ALLOWED_OPS.get(check_type, _STR_OPS)
        if op not in allowed:
            raise CompileError(
                f"operator '{op}' is not supported for field '{c.field.text()}' "
                f"of type {check_type.value}")
        if op == "exists":
            return f"({lhs} is not None)"
        if c.quantifier is not None:
            return self.quantified(c, lhs, check_type, is_list)
        if isinstance(c.value, FieldValue):
            return self.field_vs_field(c, lhs, check_type, is_list)
        if op in ("in", "intersects", "pmatch"):
            return self.list_compare(c, lhs, check_type, is_list)
        if isinstance(c.value, ListValue):
            raise CompileError(f"operator '{op}' does not take a list")
        assert isinstance(c.value, Value)
        self.warn_value(c.value)
        if op == "regex":
            self.warn_regex(c.value.text)
        lit = convert(check_type, c.value.text, op)
        return self.scalar_compare(lhs, op, lit, check_type, is_list)

    def name_compare(self, c: Compare) -> str:
        """`fd.sip.name = host`: the event's address against the host's addresses."""
        assert isinstance(c.field, FieldRef)
        value = c.value
        names = tuple(i.text for i in value.items) if isinstance(value, ListValue) \
            else (value.text,)  # type: ignore[union-attr]
        for n in names:
            self.names.want(n)
        ip, _t, _e = self.left_code(FieldRef(NAME_FIELDS[c.field.name]))
        table = self.bind(self.names, "_nt")
        v = self.tmp()
        test = f"{table}.matches({v}, {names!r})"
        if c.op == "!=":
            test = f"not {test}"
        return f"(({v} := {ip}) is not None and {test})"

    def scalar_compare(self, lhs: str, op: str, lit: Any, ftype: FieldType, is_list: bool) -> str:
        v = self.tmp()
        simple = ftype in (FT.STR, FT.INT, FT.PORT, FT.BOOL, FT.IPADDR) and not is_list
        if is_list:
            if op in ("=", "==") and ftype is not FT.IPNET:
                return f"(({v} := {lhs}) is not None and {lit!r} in {v})"
            if op == "!=" and ftype is not FT.IPNET:
                return f"(({v} := {lhs}) is not None and {lit!r} not in {v})"
            test = self.bind(scalar_test(ftype, "==" if op == "!=" else op, lit), "_t")
            if op == "!=":
                # Falco: a multi-valued field differs when none of its values is equal
                return f"(({v} := {lhs}) is not None and not any(map({test}, {v})))"
            return f"(({v} := {lhs}) is not None and any(map({test}, {v})))"
        if simple and op in ("=", "=="):
            if ftype is FT.BOOL:
                return f"({lhs} is {lit!r})"
            return f"({lhs} == {lit!r})"
        if simple and op in ("!=", "<", "<=", ">", ">="):
            pyop = op
            return f"(({v} := {lhs}) is not None and {v} {pyop} {lit!r})"
        if ftype is FT.STR and op in ("contains", "startswith", "endswith"):
            if op == "contains":
                return f"(({v} := {lhs}) is not None and {lit!r} in {v})"
            return f"(({v} := {lhs}) is not None and {v}.{op}({lit!r}))"
        if ftype is FT.STR and op == "icontains":
            return f"(({v} := {lhs}) is not None and {lit.lower()!r} in {v}.lower())"
        test = self.bind(scalar_test(ftype, op, lit), "_t")
        return f"(({v} := {lhs}) is not None and {test}({v}))"

    def list_items(self, c: Compare, ftype: FieldType) -> list[Any]:
        value = c.value
        if isinstance(value, Value):
            # an identifier left here was not a list name: Falco treats it as one value
            items: tuple[Value, ...] = (value,)
        else:
            assert isinstance(value, ListValue)
            items = value.items
        op = "pmatch" if c.op == "pmatch" else "in"
        return [convert(ftype, i.text, op) for i in items]

    def list_compare(self, c: Compare, lhs: str, ftype: FieldType, is_list: bool) -> str:
        lits = self.list_items(c, ftype)
        v = self.tmp()
        if c.op != "pmatch" and ftype is not FT.IPNET:
            s = self.bind(frozenset(lits), "_s")
            if is_list:
                return f"(({v} := {lhs}) is not None and not {s}.isdisjoint({v}))"
            return f"({lhs} in {s})"
        test = self.bind(_list_test(ftype, c.op, lits), "_t")
        if is_list:
            return f"(({v} := {lhs}) is not None and any(map({test}, {v})))"
        return f"(({v} := {lhs}) is not None and {test}({v}))"

    def quantified(self, c: Compare, lhs: str, ftype: FieldType, is_list: bool) -> str:
        lits = self.list_items(c, ftype)
        tests = [scalar_test(ftype, c.op, lit) for lit in lits]
        q = c.quantifier
        if q == "anyof":
            one = lambda x: any(t(x) for t in tests)
        elif q == "allof":
            one = lambda x: all(t(x) for t in tests)
        else:
            one = lambda x: sum(1 for t in tests if t(x)) == 1
        fn = (lambda vs: any(one(x) for x in vs)) if is_list else one
        name = self.bind(fn, "_q")
        v = self.tmp()
        return f"(({v} := {lhs}) is not None and {name}({v}))"

    def field_vs_field(self, c: Compare, lhs: str, ftype: FieldType, is_list: bool) -> str:
        assert isinstance(c.value, FieldValue)
        rhs, _rt, _re = self.left_code(c.value.field)
        op = c.op
        if op in ("in", "intersects"):
            fn = lambda a, b: (a in b) if isinstance(b, list) else a == b
        elif op == "pmatch":
            fn = lambda a, b: PathPrefixes(b if isinstance(b, list) else [b])(a)
        else:
            fn = lambda a, b: scalar_test(ftype, op, b)(a)
        name = self.bind(fn, "_b")
        v, w = self.tmp(), self.tmp()
        return (f"(({v} := {lhs}) is not None and ({w} := {rhs}) is not None "
                f"and {name}({v}, {w}))")

    # -- warnings ---------------------------------------------------------------------------

    _TRANSFORMER_LIKE = re.compile(r"^(tolower|toupper|b64|basename|len)\(\s*([^()\s]+)\s*\)$")

    def warn_value(self, v: Value) -> None:
        text = v.text.strip()
        if "." in text and self._is_field(text):
            self.warnings.append(f"'{v.text}' may be a valid field misused as a const string "
                                 f"value")
            return
        m = self._TRANSFORMER_LIKE.match(text)
        if m and self._is_field(m.group(2)):
            self.warnings.append(f"'{v.text}' may be a valid field transformer misused as a "
                                 f"const string value")

    def _is_field(self, text: str) -> bool:
        m = re.fullmatch(r"([a-zA-Z][\w.]*)(?:\[([^\]]*)\])?", text)
        if not m:
            return False
        try:
            self.registry.resolve(m.group(1), m.group(2))
            return True
        except UnknownFieldError:
            return False

    _SIMPLE_REGEX = re.compile(r"^\^?(?:\.[*+?])?([A-Za-z0-9_/-]+)(?:\.[*+?])?\$?$")

    def warn_regex(self, pattern: str) -> None:
        if self._SIMPLE_REGEX.match(pattern):
            self.warnings.append(f"regex '{pattern}' can be replaced by a simpler and faster "
                                 f"operator (=, startswith, endswith or contains)")


def compile_condition(node: Node, registry: FieldRegistry = DEFAULT_FIELDS,
                      name: str = "condition",
                      names: NameTable | None = None) -> CompiledCondition:
    """Compile an expanded condition tree (no macro references left) into a predicate.
    `names` resolves domain names compared with `fd.sip.name` and the like."""
    gen = _CodeGen(registry, names)
    body = gen.node(node)
    src = f"def _cond(e):\n    return {body}\n"
    try:
        code = compile(src, f"<{name}>", "exec")
    except (SyntaxError, RecursionError) as exc:
        raise CompileError(f"condition too complex to compile: {exc}") from None
    env = gen.env
    exec(code, env)  # noqa: S102 - generated from a parsed tree, literals via repr()
    return CompiledCondition(env["_cond"], possible_types(node), src, gen.warnings)


def _fold_evttype(node: Compare, evtype: str) -> Node:
    f = node.field
    if (isinstance(f, FieldRef) and f.name == "evt.num" and not f.transformers
            and node.op in ("=", "==") and isinstance(node.value, Value)
            and node.value.text.strip() == "0"):
        return Const(False)  # event numbers start at 1: Falco's never_true idiom
    if not (isinstance(f, FieldRef) and f.name == "evt.type" and not f.transformers
            and f.arg is None and node.quantifier is None):
        return node
    v = node.value
    if node.op in ("=", "==") and isinstance(v, Value):
        return Const(v.text == evtype)
    if node.op == "!=" and isinstance(v, Value):
        return Const(v.text != evtype)
    if node.op in ("in", "intersects") and isinstance(v, ListValue):
        return Const(any(i.text == evtype for i in v.items))
    return node


#: marks a memoised field not yet extracted in this call (None is a real "no value")
_UNSET = object()


def specialize(node: Node, evtype: str) -> Node:
    """`node` for events of type `evtype` only: `evt.type` checks become constants and the
    tree is simplified (`a and true` → `a`, `a or true` → `true`, ...)."""
    if isinstance(node, Compare):
        return _fold_evttype(node, evtype)
    if isinstance(node, Not):
        c = specialize(node.child, evtype)
        return Const(not c.value) if isinstance(c, Const) else Not(c)
    if isinstance(node, (And, Or)):
        absorbing = isinstance(node, Or)  # `or true` is true, `and false` is false
        kept: list[Node] = []
        for child in node.children:
            c = specialize(child, evtype)
            if isinstance(c, Const):
                if c.value == absorbing:
                    return Const(absorbing)
                continue
            kept.append(c)
        if not kept:
            return Const(not absorbing)
        return kept[0] if len(kept) == 1 else type(node)(tuple(kept))
    return node


def compile_bucket(nodes: list[Node], registry: FieldRegistry = DEFAULT_FIELDS, *,
                   evtype: str | None = None, first_only: bool = True,
                   name: str = "bucket", names: NameTable | None = None) -> Callable[[Any], Any]:
    """One function testing several conditions in order on one event.

    With `first_only` it returns the index of the first condition that holds (or -1);
    otherwise the list of indexes that hold. Conditions are specialised for `evtype`
    when given. One call per event instead of one per rule; an exception propagates
    (the caller falls back to rule-by-rule evaluation to isolate it).
    """
    gen = _CodeGen(registry, names)
    gen.memo = {}
    gen.env["_U"] = _UNSET
    lines = ["def _bucket(e):", None]
    if not first_only:
        lines.append("    _m = []")
    for i, node in enumerate(nodes):
        n = specialize(node, evtype) if evtype is not None else node
        if isinstance(n, Const) and not n.value:
            continue
        body = gen.node(n)
        action = f"return {i}" if first_only else f"_m.append({i})"
        lines.append(f"    if {body}:\n        {action}")
    lines.append("    return -1" if first_only else "    return _m")
    lines[1] = ("    " + " = ".join(gen.memo.values()) + " = _U") if gen.memo else "    pass"
    src = "\n".join(lines) + "\n"
    try:
        code = compile(src, f"<{name}>", "exec")
    except (SyntaxError, RecursionError) as exc:
        raise CompileError(f"rule bucket too complex to compile: {exc}") from None
    env = gen.env
    exec(code, env)  # noqa: S102 - generated from parsed trees, literals via repr()
    return env["_bucket"]


def check_condition(node: Node, registry: FieldRegistry = DEFAULT_FIELDS) -> list[str]:
    """Compile only to find errors and warnings; returns the warnings."""
    return compile_condition(node, registry).warnings
