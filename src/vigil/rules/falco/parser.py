"""Parser for Falco's condition language, accepting and rejecting exactly what Falco does.

A recursive-descent parser over the grammar of libsinsp's filter parser (Falco's reference):

    Expr      ::= OrExpr
    OrExpr    ::= AndExpr ('or' (blank AndExpr | '(' Expr ')'))*
    AndExpr   ::= NotExpr ('and' (blank NotExpr | '(' Expr ')'))*
    NotExpr   ::= ('not' blank+)* ('not(' Expr ')' | Check)
    Check     ::= '(' Expr ')' | Left Condition | Identifier
    Left      ::= Field | Transformer '(' Left ')' | Join | Getopt
    Condition ::= 'exists' | NumOp (Number | RightField) | StrOp [Quantifier] (StrValue |
                  RightField) | ListOp (ListValue | RightField)

Operators that are words (`contains`, `glob`, ...) must be followed by a blank; symbol
operators need not be (`a.b=1`). Whitespace is not significant otherwise. The output is a
`vigil.rules.ast` tree; `not not x` folds to `x` as in Falco.
"""

from __future__ import annotations

import re

from vigil.rules.ast import (
    And, Compare, FieldRef, FieldValue, Getopt, Ident, Join, LeftSide, ListValue, Node, Not,
    Or, Value,
)

TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")
QUANTIFIERS = ("oneof", "anyof", "allof")

_BLANK = " \t\b\r\n"
_RE_NOTBLANK = re.compile(r"not[ \t\b\r\n]+")
_RE_IDENT = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_RE_FIELD = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+")
_RE_FIELDARG = re.compile(r"[^ \b\t\n\r\[\]\"']+")
_RE_HEX = re.compile(r"0[xX][0-9a-zA-Z]+")
_RE_NUM = re.compile(r"[+\-]?[0-9]+\.?[0-9]*([eE][+\-][0-9]+)?")
_RE_BARE = re.compile(r"[^ \b\t\n\r(),=\"']+")
_RE_QUANT = re.compile(r"(oneof|anyof|allof)[ \t\b\r\n]+")

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
STR_OPS = ("==", "=", "!=", "glob ", "iglob ", "contains ", "icontains ", "bcontains ",
           "startswith ", "bstartswith ", "endswith ", "regex ")
LIST_OPS = ("intersects", "in", "pmatch")
ALL_OPS = UNARY_OPS + NUM_OPS + tuple(o.strip() for o in STR_OPS) + LIST_OPS
_KEYWORDS = frozenset({"and", "or", "not"})
MAX_DEPTH = 100


class FilterSyntaxError(ValueError):
    """A condition that Falco's parser rejects; `col`/`line` locate the problem."""

    def __init__(self, message: str, idx: int, line: int, col: int) -> None:
        self.message = message
        self.idx = idx
        self.line = line
        self.col = col
        super().__init__(f"{message} (at line {line}, column {col})")


def unescape(token: str) -> str:
    """Remove the quotes of a quoted string token and resolve its escapes as Falco does."""
    out = []
    quote = token[0]
    escaped = False
    for ch in token[1:-1]:
        if not escaped:
            if ch == "\\":
                escaped = True
            else:
                out.append(ch)
            continue
        escaped = False
        if ch in "bfnrt":
            out.append({"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}[ch])
        elif ch in " \\":
            # Falco keeps "\ " as a lone backslash for compatibility with old rules
            out.append("\\")
        elif ch == "/":
            out.append("/")
        elif ch in "\"'":
            if ch != quote:
                other = "'-quoted" if quote == "'" else '"-quoted'
                raise ValueError(f"invalid \\{ch} escape in {other} string")
            out.append(ch)
        else:
            raise ValueError(f"unsupported string escape sequence: \\{ch}")
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.depth = 0
        self.last = ""

    # -- errors and positions ------------------------------------------------------------

    def error(self, message: str) -> FilterSyntaxError:
        before = self.s[: self.i]
        line = before.count("\n") + before.count("\r") + 1
        nl = max(before.rfind("\n"), before.rfind("\r"))
        return FilterSyntaxError(message, self.i, line, self.i - nl)

    def push(self) -> None:
        self.depth += 1
        if self.depth >= MAX_DEPTH:
            raise self.error(f"exceeded max depth limit of {MAX_DEPTH}")

    def pop(self) -> None:
        self.depth -= 1

    # -- lexing ----------------------------------------------------------------------------

    def blank(self) -> bool:
        start = self.i
        s, n = self.s, len(self.s)
        while self.i < n and s[self.i] in _BLANK:
            self.i += 1
        return self.i > start

    def lit(self, text: str) -> bool:
        if self.s.startswith(text, self.i):
            self.i += len(text)
            self.last = text
            return True
        return False

    def rgx(self, rx: re.Pattern[str]) -> bool:
        m = rx.match(self.s, self.i)
        if m and m.end() > self.i:
            self.last = m.group(0)
            self.i = m.end()
            return True
        return False

    def quoted(self) -> bool:
        s, i = self.s, self.i
        if i >= len(s) or s[i] not in "'\"":
            return False
        delim = s[i]
        prev = "\\"
        j = i
        while j < len(s):
            ch = s[j]
            if ch == delim and prev != "\\":
                token = s[i: j + 1]
                try:
                    self.last = unescape(token)
                except ValueError as exc:
                    raise self.error(str(exc)) from None
                self.i = j + 1
                return True
            prev = ch
            j += 1
        return False

    def one_of(self, options: tuple[str, ...]) -> str | None:
        for op in options:
            if self.lit(op):
                return op
        return None

    # -- grammar ---------------------------------------------------------------------------

    def parse(self) -> Node:
        if not self.s:
            raise self.error("filter input string is empty")
        node = self.parse_or()
        if self.i != len(self.s):
            raise self.error(f"unexpected token after '{self.last}', expecting 'or', 'and'")
        return node

    def parse_or(self) -> Node:
        self.push()
        self.blank()
        children = [self.parse_and()]
        self.blank()
        while self.lit("or"):
            if not self.blank():
                if self.lit("("):
                    children.append(self.parse_embedded())
                else:
                    raise self.error("expected blank or '(' after 'or'")
            else:
                children.append(self.parse_and())
            self.blank()
        self.pop()
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        self.push()
        self.blank()
        children = [self.parse_not()]
        self.blank()
        while self.lit("and"):
            if not self.blank():
                if self.lit("("):
                    children.append(self.parse_embedded())
                else:
                    raise self.error("expected blank or '(' after 'and'")
            else:
                children.append(self.parse_not())
            self.blank()
        self.pop()
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_not(self) -> Node:
        self.push()
        negate = False
        self.blank()
        while self.rgx(_RE_NOTBLANK):
            negate = not negate
        if self.lit("not("):
            negate = not negate
            child = self.parse_embedded()
        else:
            child = self.parse_check()
        self.pop()
        return Not(child) if negate else child

    def parse_embedded(self) -> Node:
        self.push()
        self.blank()
        child = self.parse_or()
        self.blank()
        if not self.lit(")"):
            raise self.error("expected a ')' token")
        self.pop()
        return child

    def parse_check(self) -> Node:
        self.push()
        self.blank()
        if self.lit("("):
            child = self.parse_embedded()
            self.pop()
            return child
        left = self.try_left()
        if left is not None:
            node = self.parse_condition(left)
            self.pop()
            return node
        if self.rgx(_RE_IDENT):
            self.pop()
            return Ident(self.last)
        raise self.error("expected a '(' token, a field check, or an identifier")

    # left side: fields, transformers, join, getopt

    def try_left(self) -> LeftSide | None:
        for t in TRANSFORMERS:
            if self.lit(t + "("):
                inner = self.parse_transformer_arg(allow_val=False)
                return _with_transformer(inner, t)
        if self.lit("join("):
            return self.parse_join_rest()
        if self.lit("getopt("):
            return self.parse_getopt_rest()
        if self.rgx(_RE_FIELD):
            return self.parse_field_rest(self.last)
        return None

    def parse_field_rest(self, name: str) -> FieldRef:
        arg = None
        if self.lit("["):
            arg = self.parse_field_arg()
        return FieldRef(name, arg)

    def parse_field_arg(self) -> str:
        if not self.quoted() and not self.rgx(_RE_FIELDARG):
            raise self.error("expected a valid field argument: a quoted string or a bare string")
        arg = self.last
        if not self.lit("]"):
            raise self.error("expected a ']' token")
        return arg

    def parse_transformer_arg(self, allow_val: bool) -> LeftSide:
        """After `name(`: a field or a nested transformer, then `)`."""
        self.push()
        self.blank()
        inner: LeftSide | None = None
        for t in TRANSFORMERS:
            if self.lit(t + "("):
                inner = _with_transformer(self.parse_transformer_arg(False), t)
                break
        else:
            if self.lit("join("):
                inner = self.parse_join_rest()
            elif self.lit("getopt("):
                inner = self.parse_getopt_rest()
            elif self.rgx(_RE_FIELD):
                inner = self.parse_field_rest(self.last)
        if inner is None:
            raise self.error("expected a field or a field transformer")
        self.blank()
        if not self.lit(")"):
            raise self.error("expected a ')' token")
        self.pop()
        return inner

    def parse_join_rest(self) -> Join:
        self.blank()
        if not self.quoted():
            raise self.error("expected a quoted separator string in join()")
        sep = self.last
        self.blank()
        if not self.lit(","):
            raise self.error("expected a ',' token")
        self.blank()
        if not self.lit("("):
            raise self.error("expected a '(' token")
        items: list[FieldRef | Join | Value] = []
        self.blank()
        if not self.lit(")"):
            while True:
                self.blank()
                items.append(self.parse_join_item())
                self.blank()
                if self.lit(")"):
                    break
                if not self.lit(","):
                    raise self.error("expected a ',' or ')' token")
        self.blank()
        if not self.lit(")"):
            raise self.error("expected a ')' token")
        return Join(sep, tuple(items))

    def parse_join_item(self) -> FieldRef | Join | Value:
        if self.quoted():
            return Value(self.last, True)
        left = self.try_left()
        if left is not None:
            return left  # type: ignore[return-value]
        if self.rgx(_RE_HEX) or self.rgx(_RE_NUM):
            return Value(self.last)
        raise self.error("expected a field, a field transformer, a quoted string or a number")

    def parse_getopt_rest(self) -> Getopt:
        self.blank()
        if not self.rgx(_RE_FIELD):
            raise self.error("expected a field in getopt()")
        field = self.parse_field_rest(self.last)
        self.blank()
        if not self.lit(","):
            raise self.error("expected a ',' token")
        self.blank()
        if not self.quoted():
            raise self.error("expected a quoted option string in getopt()")
        opts = self.last
        self.blank()
        if not self.lit(")"):
            raise self.error("expected a ')' token")
        arg = None
        if self.lit("["):
            arg = self.parse_field_arg()
        return Getopt(field, opts, arg)

    # conditions

    def parse_condition(self, left: LeftSide) -> Compare:
        self.blank()
        if self.one_of(UNARY_OPS):
            return Compare(left, "exists")
        self.blank()
        op = self.one_of(NUM_OPS)
        if op is not None:
            self.blank()
            value = self.try_right_field()
            if value is None:
                if not (self.rgx(_RE_HEX) or self.rgx(_RE_NUM)):
                    raise self.error("expected a number value")
                value = Value(self.last)
            return Compare(left, op, value)
        op = self.one_of(STR_OPS)
        if op is not None:
            had_blank = op.endswith(" ") | self.blank()
            quant = self.try_quantifier() if had_blank else None
            if quant is not None:
                return Compare(left, op.strip(), quant[1], quantifier=quant[0])
            value = self.try_right_field()
            if value is None:
                value = self.parse_str_value()
            return Compare(left, op.strip(), value)
        op = self.one_of(LIST_OPS)
        if op is not None:
            self.blank()
            value = self.try_right_field()
            if value is None:
                value = self.parse_list_value()
            return Compare(left, op, value)
        ops = ", ".join(f"'{o}'" for o in ALL_OPS)
        raise self.error(f"expected a valid check operator: one of {ops}")

    def try_quantifier(self) -> tuple[str, ListValue | Value] | None:
        start = self.i
        if not self.rgx(_RE_QUANT):
            return None
        quant = self.last.rstrip(_BLANK)
        if self.s.startswith("(", self.i):
            return quant, self.parse_list_value()
        m = _RE_IDENT.match(self.s, self.i)
        if m and m.group(0) not in _KEYWORDS:
            self.i = m.end()
            self.last = m.group(0)
            return quant, Value(m.group(0))
        # `x == oneof and ...`: the word was a plain value after all
        self.i = start
        return None

    def try_right_field(self) -> FieldValue | None:
        if self.lit("val("):
            self.push()
            self.blank()
            if not self.rgx(_RE_FIELD):
                raise self.error("expected a field in val()")
            field = self.parse_field_rest(self.last)
            self.blank()
            if not self.lit(")"):
                raise self.error("expected a ')' token")
            self.pop()
            return FieldValue(field)
        for t in TRANSFORMERS:
            if self.lit(t + "("):
                return FieldValue(_with_transformer(self.parse_transformer_arg(False), t))
        return None

    def parse_str_value(self) -> Value:
        self.blank()
        if self.quoted():
            return Value(self.last, True)
        if self.rgx(_RE_BARE):
            return Value(self.last)
        raise self.error("expected a string value")

    def parse_list_value(self) -> ListValue | Value:
        self.push()
        self.blank()
        if self.lit("("):
            items: list[Value] = []
            self.blank()
            start = self.i
            try:
                first = self.parse_str_value()
            except FilterSyntaxError:
                self.i = start
                first = None
            if first is not None:
                items.append(first)
                self.blank()
                while self.lit(","):
                    items.append(self.parse_str_value())
                    self.blank()
            if not self.lit(")"):
                raise self.error("expected a ')' token")
            self.pop()
            return ListValue(tuple(items))
        if self.rgx(_RE_IDENT):
            self.pop()
            return Value(self.last)
        raise self.error("expected a list or an identifier")


def _with_transformer(inner: LeftSide, name: str) -> LeftSide:
    """Wrap `inner` in one more transformer (outermost first in `transformers`)."""
    return type(inner)(**{**inner.__dict__, "transformers": (name,) + inner.transformers})


def parse_condition(text: str) -> Node:
    """Parse a Falco condition into a syntax tree; raises `FilterSyntaxError`."""
    return _Parser(text).parse()
