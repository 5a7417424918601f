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
_ARITHMETIC = {
    "add": "+",
    "add_checked": "+",
    "subtract": "-",
    "subtract_checked": "-",
    "multiply": "*",
    "multiply_checked": "*",
    "divide": "/",
    "divide_checked": "/",
}


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
        for name in ("invert", "is_valid") + tuple(_ARITHMETIC):
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


def _rebuild(node: _Node, types: dict, typed: bool, hint: Optional[pa.DataType] = None) -> Any:
    """The pyarrow expression the parse describes. With `typed`, a literal
    compared with a column takes that column's type (as DuckDB sends them)."""
    if isinstance(node, _Field):
        return pc.field(node.name)
    if isinstance(node, _Literal):
        return pc.scalar(pa.scalar(node.value, type=hint) if typed and hint is not None else node.value)
    args = node.args

    def field_type(other: _Node) -> Optional[pa.DataType]:
        return types.get(other.name) if isinstance(other, _Field) else None

    if node.op in _COMPARISONS or node.op in _ARITHMETIC:
        left = _rebuild(args[0], types, typed, field_type(args[1]))
        right = _rebuild(args[1], types, typed, field_type(args[0]))
        if node.op in _ARITHMETIC:
            return getattr(pc, node.op)(left, right)
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
        value_type = field_type(args[0]) if typed else None
        return _rebuild(args[0], types, typed).isin(pa.array(node.options, type=value_type))
    raise _Unsupported(node.op)


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


def _to_sql(node: _Node) -> str:
    if isinstance(node, _Field):
        return _quote_ident(node.name)
    if isinstance(node, _Literal):
        return _sql_literal(node.value)
    args = node.args
    if node.op in _COMPARISONS:
        return f"({_to_sql(args[0])} {_COMPARISONS[node.op]} {_to_sql(args[1])})"
    if node.op in _ARITHMETIC:
        return f"({_to_sql(args[0])} {_ARITHMETIC[node.op]} {_to_sql(args[1])})"
    if node.op in _LOGICAL:
        return f"({_to_sql(args[0])} {_LOGICAL[node.op]} {_to_sql(args[1])})"
    if node.op == "invert":
        return f"(NOT {_to_sql(args[0])})"
    if node.op == "is_valid":
        return f"({_to_sql(args[0])} IS NOT NULL)"
    if node.op == "is_null":
        return f"({_to_sql(args[0])} IS NULL)"
    if node.op == "is_in":
        if not node.options or any(v is None for v in node.options):
            raise _Unsupported("empty or null-matching value set")
        values = ", ".join(_sql_literal(v) for v in node.options)
        return f"({_to_sql(args[0])} IN ({values}))"
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
    for typed in (False, True):
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
        return _to_sql(node)
    except _Unsupported:
        return None


def referenced_columns(expr: pc.Expression, schema: pa.Schema) -> Optional[set]:
    """Columns `expr` reads, when the expression could be parsed exactly."""
    node = _parse_exact(expr, schema)
    return None if node is None else _fields(node, set())
