"""Translate pyarrow compute expressions into Pilum SQL filters.

DuckDB and Polars push filters into a ``pyarrow.dataset.Dataset`` as
``pyarrow.compute.Expression`` objects. Pilum evaluates SQL, so this module
parses the expression's text form, rebuilds an equivalent expression from
the parse, and only returns SQL when the rebuilt expression *equals* the
original. Anything else returns ``None`` and the caller filters in pyarrow
instead, so a translation is either exact or not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["expression_to_sql", "referenced_columns"]

_COMPARISONS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LOGICAL = {"and": "AND", "or": "OR"}


class _Unsupported(Exception):
    """The expression uses a form this translator does not handle."""


@dataclass
class _Field:
    name: str


@dataclass
class _Literal:
    value: Any


@dataclass
class _Call:
    op: str
    args: list
    options: Any = None


_Node = Union[_Field, _Literal, _Call]


class _Parser:
    def __init__(self, text: str, columns: Sequence[str]):
        self.text = text
        self.pos = 0
        # Longest names first so "a b" wins over "a".
        self.columns = sorted(columns, key=len, reverse=True)

    def parse(self) -> _Node:
        node = self.operand()
        if self.pos != len(self.text):
            raise _Unsupported("trailing text")
        return node

    def eat(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise _Unsupported(f"expected {token!r} at {self.pos}")
        self.pos += len(token)

    def operand(self) -> _Node:
        text, pos = self.text, self.pos
        if text.startswith("(", pos):
            self.pos += 1
            left = self.operand()
            self.eat(" ")
            op_end = text.find(" ", self.pos)
            if op_end < 0:
                raise _Unsupported("binary operator")
            op = text[self.pos : op_end]
            if op not in _COMPARISONS and op not in _LOGICAL:
                raise _Unsupported(f"operator {op}")
            self.pos = op_end + 1
            right = self.operand()
            self.eat(")")
            return _Call(op, [left, right])
        # Arithmetic is not translated: Arrow wraps or raises on overflow in the
        # operands' own type, SQL computes in a promoted type, so results differ.
        for name in ("invert", "is_valid"):
            if text.startswith(name + "(", pos):
                self.pos += len(name) + 1
                args = [self.operand()]
                while text.startswith(", ", self.pos):
                    self.pos += 2
                    args.append(self.operand())
                self.eat(")")
                return _Call(name, args)
        if text.startswith("is_null(", pos):
            self.pos += len("is_null(")
            arg = self.operand()
            self.eat(", {nan_is_null=false})")
            return _Call("is_null", [arg])
        if text.startswith("is_in(", pos):
            self.pos += len("is_in(")
            arg = self.operand()
            self.eat(", {value_set=")
            end = text.find(":[", self.pos)
            if end < 0:
                raise _Unsupported("value set")
            self.pos = end + 2
            values = []
            while True:
                while text.startswith(("\n", " ", ","), self.pos):
                    self.pos += 1
                if text.startswith("]", self.pos):
                    self.pos += 1
                    break
                literal = self.literal()
                if literal is None:
                    raise _Unsupported("value set literal")
                values.append(literal.value)
            self.eat(", null_matching_behavior=MATCH})")
            return _Call("is_in", [arg], values)
        literal = self.literal()
        if literal is not None:
            return literal
        for name in self.columns:
            end = pos + len(name)
            if text.startswith(name, pos) and (end == len(text) or text[end] in " ),"):
                self.pos = end
                return _Field(name)
        raise _Unsupported(f"operand at {pos}")

    def literal(self) -> Optional[_Literal]:
        text, pos = self.text, self.pos
        if text.startswith('"', pos):
            out, i = [], pos + 1
            while i < len(text):
                ch = text[i]
                if ch == "\\" and i + 1 < len(text):
                    out.append(text[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    self.pos = i + 1
                    return _Literal("".join(out))
                out.append(ch)
                i += 1
            raise _Unsupported("unterminated string")
        for word, value in (("true", True), ("false", False)):
            if text.startswith(word, pos) and not text[pos + len(word) : pos + len(word) + 1].isalnum():
                self.pos += len(word)
                return _Literal(value)
        match = re.compile(r"-?(\d+\.\d*(e[+-]?\d+)?|\d+e[+-]?\d+|\d+|inf|nan)(?=[ ),\n]|$)").match(text, pos)
        if match:
            token = match.group(0)
            self.pos = match.end()
            if re.fullmatch(r"-?\d+", token):
                return _Literal(int(token))
            return _Literal(float(token))
        return None


def _rebuild(node: _Node, types: dict, typed: frozenset, hint: Optional[pa.DataType] = None) -> Any:
    """The pyarrow expression the parse describes. A literal whose ``id`` is
    in `typed` and that is compared with a column takes that column's type
    (as DuckDB sends them); the others keep pyarrow's default type."""
    if isinstance(node, _Field):
        return pc.field(node.name)
    if isinstance(node, _Literal):
        typed_here = id(node) in typed and hint is not None
        return pc.scalar(pa.scalar(node.value, type=hint) if typed_here else node.value)
    args = node.args

    def field_type(other: _Node) -> Optional[pa.DataType]:
        return types.get(other.name) if isinstance(other, _Field) else None

    if node.op in _COMPARISONS:
        left = _rebuild(args[0], types, typed, field_type(args[1]))
        right = _rebuild(args[1], types, typed, field_type(args[0]))
        return {
            "==": lambda: left == right,
            "!=": lambda: left != right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
        }[node.op]()
    if node.op == "and":
        return _rebuild(args[0], types, typed) & _rebuild(args[1], types, typed)
    if node.op == "or":
        return _rebuild(args[0], types, typed) | _rebuild(args[1], types, typed)
    if node.op == "invert":
        return ~_rebuild(args[0], types, typed)
    if node.op == "is_valid":
        return _rebuild(args[0], types, typed).is_valid()
    if node.op == "is_null":
        return _rebuild(args[0], types, typed).is_null()
    if node.op == "is_in":
        value_type = field_type(args[0]) if id(node) in typed else None
        return _rebuild(args[0], types, typed).isin(pa.array(node.options, type=value_type))
    raise _Unsupported(node.op)


def _typeable(node: _Node, out: list) -> list:
    """Literals and value sets whose type may follow their column, in order."""
    if isinstance(node, _Literal):
        out.append(node)
    elif isinstance(node, _Call):
        if node.op == "is_in":
            out.append(node)
        for arg in node.args:
            _typeable(arg, out)
    return out


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _Unsupported("non-finite float literal")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise _Unsupported(f"literal {value!r}")


def _is_float(node: _Node, types: dict) -> bool:
    return isinstance(node, _Field) and pa.types.is_floating(types.get(node.name, pa.null()))


def _to_sql(node: _Node, types: dict) -> str:
    if isinstance(node, _Field):
        return _quote_ident(node.name)
    if isinstance(node, _Literal):
        return _sql_literal(node.value)
    args = node.args
    if node.op in _COMPARISONS:
        left, right = _to_sql(args[0], types), _to_sql(args[1], types)
        compared = f"({left} {_COMPARISONS[node.op]} {right})"
        # SQL orders NaN above every number and equal to itself; Arrow follows
        # IEEE 754, where every comparison with NaN is false except `!=`.
        nan_sides = [side for node_, side in zip(args, (left, right)) if _is_float(node_, types)]
        if not nan_sides:
            return compared
        if node.op == "!=":
            return "(" + " OR ".join([compared] + [f"isnan({side})" for side in nan_sides]) + ")"
        return "(" + " AND ".join([compared] + [f"(NOT isnan({side}))" for side in nan_sides]) + ")"
    if node.op in _LOGICAL:
        return f"({_to_sql(args[0], types)} {_LOGICAL[node.op]} {_to_sql(args[1], types)})"
    if node.op == "invert":
        return f"(NOT {_to_sql(args[0], types)})"
    if node.op == "is_valid":
        return f"({_to_sql(args[0], types)} IS NOT NULL)"
    if node.op == "is_null":
        return f"({_to_sql(args[0], types)} IS NULL)"
    if node.op == "is_in":
        if not node.options or any(v is None for v in node.options):
            raise _Unsupported("empty or null-matching value set")
        if _is_float(args[0], types) and any(isinstance(v, float) and v != v for v in node.options):
            raise _Unsupported("NaN in a value set")
        values = ", ".join(_sql_literal(v) for v in node.options)
        # Arrow's is_in is false (not null) for a null value when the set has no null.
        return f"(CASE WHEN {_to_sql(args[0], types)} IN ({values}) THEN TRUE ELSE FALSE END)"
    raise _Unsupported(node.op)


def _fields(node: _Node, out: set) -> set:
    if isinstance(node, _Field):
        out.add(node.name)
    elif isinstance(node, _Call):
        for arg in node.args:
            _fields(arg, out)
    return out


def _parse_exact(expr: pc.Expression, schema: pa.Schema) -> Optional[_Node]:
    try:
        node = _Parser(str(expr), schema.names).parse()
    except _Unsupported:
        return None
    types = {f.name: f.type for f in schema}
    literals = _typeable(node, [])
    # Each literal either keeps pyarrow's default type or takes its column's;
    # try every combination (few literals in practice) until one is exact.
    if len(literals) > 10:
        return None
    for mask in range(1 << len(literals)):
        typed = frozenset(id(lit) for k, lit in enumerate(literals) if mask >> k & 1)
        try:
            if _rebuild(node, types, typed).equals(expr):
                return node
        except (_Unsupported, pa.ArrowException, TypeError, ValueError, KeyError):
            continue
    return None


def expression_to_sql(expr: pc.Expression, schema: pa.Schema) -> Optional[str]:
    """SQL for `expr` over `schema`, or ``None`` when no exact translation is known."""
    node = _parse_exact(expr, schema)
    if node is None:
        return None
    try:
        return _to_sql(node, {f.name: f.type for f in schema})
    except _Unsupported:
        return None


def referenced_columns(expr: pc.Expression, schema: pa.Schema) -> Optional[set]:
    """Columns `expr` reads, when the expression could be parsed exactly."""
    node = _parse_exact(expr, schema)
    return None if node is None else _fields(node, set())
