"""The condition syntax tree shared by Falco and Sigma rules.

Falco conditions are parsed into these nodes (`vigil.rules.falco.parser`); Sigma rules are
translated into them (`vigil.rules.sigma`); `vigil.rules.compiler` turns a tree into one
Python code object. Nodes are immutable and hashable so passes can rebuild trees freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

#: Falco's binary comparison operators.
FALCO_CMP_OPS = frozenset({
    "=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains",
    "startswith", "bstartswith", "endswith", "glob", "iglob", "regex", "pmatch",
})
#: Operators whose right-hand side is a list.
LIST_OPS = frozenset({"in", "intersects", "pmatch"})
#: Extra operators that only Sigma translation produces; not accepted by the Falco parser.
#: `iequals`/`istartswith`/`iendswith`: case-insensitive variants; `sregex`/`iregex`: regex
#: *search* (anywhere in the value, as Sigma's `re` means), case-sensitive / insensitive —
#: Falco's own `regex` is a full match; `cidr`: the value is an IP inside the CIDR network.
INTERNAL_OPS = frozenset({"iequals", "istartswith", "iendswith", "sregex", "iregex", "cidr"})


@dataclass(frozen=True)
class Value:
    """A literal on the right of an operator. `quoted` keeps whether it was in quotes."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class ListValue:
    """`(a, b, c)` on the right of `in`/`intersects`/`pmatch`; items may be list names."""

    items: tuple[Value, ...]


@dataclass(frozen=True)
class FieldRef:
    """A field, optionally with an argument and transformers applied outside-in.

    `tolower(proc.name)` is `FieldRef("proc.name", None, ("tolower",))`.
    """

    name: str
    arg: str | None = None
    transformers: tuple[str, ...] = ()

    def text(self) -> str:
        """The field as written in a condition."""
        s = self.name if self.arg is None else f"{self.name}[{self.arg}]"
        for t in reversed(self.transformers):
            s = f"{t}({s})"
        return s


@dataclass(frozen=True)
class Join:
    """`join("sep", (item, ...))`: the items' values joined into one string.

    Items are fields (possibly transformed), quoted strings or numbers.
    """

    sep: str
    items: tuple[Union["FieldRef", "Join", Value], ...]
    transformers: tuple[str, ...] = ()

    def text(self) -> str:
        """The expression as written in a condition."""
        inner = ", ".join(i.text() if not isinstance(i, Value) else _value_text(i)
                          for i in self.items)
        s = f"join({_value_text(Value(self.sep, True))}, ({inner}))"
        for t in reversed(self.transformers):
            s = f"{t}({s})"
        return s


@dataclass(frozen=True)
class Getopt:
    """`getopt(field, "optstring")[opt]`: the value of option `opt` in an argv field."""

    field: "FieldRef"
    optstring: str
    arg: str | None = None
    transformers: tuple[str, ...] = ()

    def text(self) -> str:
        """The expression as written in a condition."""
        s = f"getopt({self.field.text()}, {_value_text(Value(self.optstring, True))})"
        if self.arg is not None:
            s += f"[{self.arg}]"
        for t in reversed(self.transformers):
            s = f"{t}({s})"
        return s


@dataclass(frozen=True)
class FieldValue:
    """`val(field)` on the right: compare with another field of the same event."""

    field: Union["FieldRef", Join, Getopt]


Operand = Union[Value, ListValue, FieldValue]
#: What can stand on the left of an operator.
LeftSide = Union[FieldRef, Join, Getopt]


@dataclass(frozen=True)
class Compare:
    """`field op value`; `exists` has no value.

    `quantifier` is `oneof`/`anyof`/`allof` for `field op oneof (a, b)`: the comparison is
    made against each list item and exactly one / at least one / all must hold.
    """

    field: LeftSide
    op: str
    value: Operand | None = None
    quantifier: str | None = None


@dataclass(frozen=True)
class Ident:
    """A bare identifier: a macro reference (or, unresolved, an error)."""

    name: str


@dataclass(frozen=True)
class Not:
    """`not x`."""

    child: "Node"


@dataclass(frozen=True)
class And:
    """`a and b and ...` (two or more children)."""

    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    """`a or b or ...` (two or more children)."""

    children: tuple["Node", ...]


@dataclass(frozen=True)
class Const:
    """A constant truth value (used by Sigma translation and tests)."""

    value: bool


Node = Union[Compare, Ident, Not, And, Or, Const]


def walk(node: Node):
    """Yield every node of the tree, parents before children."""
    yield node
    if isinstance(node, Not):
        yield from walk(node.child)
    elif isinstance(node, (And, Or)):
        for c in node.children:
            yield from walk(c)


def to_text(node: Node) -> str:
    """Print a tree as a Falco condition, fully parenthesised like Falco's own printer."""
    if isinstance(node, Compare):
        f = node.field.text()
        if node.value is None:
            return f"{f} {node.op}"
        q = f"{node.quantifier} " if node.quantifier else ""
        return f"{f} {node.op} {q}{_operand_text(node.value)}"
    if isinstance(node, Ident):
        return node.name
    if isinstance(node, Const):
        return "true" if node.value else "false"
    if isinstance(node, Not):
        return f"not {to_text(node.child)}"
    if isinstance(node, And):
        return "(" + " and ".join(to_text(c) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " or ".join(to_text(c) for c in node.children) + ")"
    raise TypeError(node)


def _value_text(v: Value) -> str:
    if v.quoted or not v.text or any(c in v.text for c in " ()\t,\"'"):
        return '"' + v.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return v.text


def _operand_text(v: Operand) -> str:
    if isinstance(v, ListValue):
        return "(" + ", ".join(_value_text(i) for i in v.items) + ")"
    if isinstance(v, FieldValue):
        f = v.field
        if isinstance(f, FieldRef) and not f.transformers:
            return f"val({f.text()})"
        return f.text()
    return _value_text(v)
