"""Full-text query objects, with pylance's names (``lance.query``).

Pass one as ``full_text_query=`` to ``to_table``/``scanner``; a plain
string is a ``MatchQuery`` over every column with an inverted index.
Results carry ``_score`` (BM25, k1 = 1.2, b = 0.75), best first.

- ``MatchQuery(query, column, *, boost=1.0, fuzziness=0, max_expansions=50,
  operator=FullTextOperator.OR, prefix_length=0, minimum_should_match=1)``:
  the analyzed terms of `query`; ``fuzziness=None`` is automatic (0 edits up
  to 2 characters, 1 up to 5, else 2).
- ``PhraseQuery(query, column, *, slop=0)``: the terms in order (needs an
  index built with ``with_position=True``).
- ``MultiMatchQuery(query, columns, *, boosts=None, operator=OR)``.
- ``BoostQuery(positive, negative, *, negative_boost=0.5)``.
- ``BooleanQuery([(Occur.MUST | SHOULD | MUST_NOT, query), ...])``.
- ``PrefixQuery(query, column, *, max_expansions=50)`` (Pilum's addition):
  terms starting with `query`.
"""

from __future__ import annotations

import abc
from enum import Enum
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__all__ = [
    "FullTextQuery",
    "FullTextOperator",
    "Occur",
    "MatchQuery",
    "PhraseQuery",
    "PrefixQuery",
    "MultiMatchQuery",
    "BoostQuery",
    "BooleanQuery",
]


class FullTextOperator(str, Enum):
    """How the terms of a match combine."""

    AND = "AND"
    OR = "OR"


class Occur(str, Enum):
    """How a clause of a ``BooleanQuery`` takes part."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MUST_NOT = "MUST_NOT"


def _operator(value: Any) -> str:
    try:
        return FullTextOperator(value.upper() if isinstance(value, str) else value).value
    except ValueError:
        raise ValueError(f"operator must be FullTextOperator.AND or .OR, got {value!r}") from None


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


class FullTextQuery(abc.ABC):
    """A full-text query (the base of every query class here)."""

    @abc.abstractmethod
    def to_dict(self) -> Dict[str, Any]:
        """The query as the native layer takes it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FullTextQuery) and self.to_dict() == other.to_dict()


class MatchQuery(FullTextQuery):
    """Terms of `query` in `column` (every indexed column when None)."""

    def __init__(
        self,
        query: str,
        column: Optional[str] = None,
        *,
        boost: float = 1.0,
        fuzziness: Optional[int] = 0,
        max_expansions: int = 50,
        operator: Union[FullTextOperator, str] = FullTextOperator.OR,
        prefix_length: int = 0,
        minimum_should_match: int = 1,
    ):
        self.query = _text("query", query)
        self.column = None if column is None else _text("column", column)
        self.boost = float(boost)
        if fuzziness is not None:
            _count("fuzziness", fuzziness, 0)
            if fuzziness > 2:
                raise ValueError(f"fuzziness must be 0, 1, 2 or None (automatic), got {fuzziness}")
        self.fuzziness = fuzziness
        self.max_expansions = _count("max_expansions", max_expansions, 1)
        self.operator = _operator(operator)
        self.prefix_length = _count("prefix_length", prefix_length, 0)
        self.minimum_should_match = _count("minimum_should_match", minimum_should_match, 1)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "kind": "match",
            "query": self.query,
            "column": self.column,
            "boost": self.boost,
            "fuzziness": self.fuzziness,
            "max_expansions": self.max_expansions,
            "operator": self.operator,
            "prefix_length": self.prefix_length,
            "minimum_should_match": self.minimum_should_match,
        }


class PhraseQuery(FullTextQuery):
    """The terms of `query` in order, at most `slop` extra positions apart in total."""

    def __init__(self, query: str, column: Optional[str] = None, *, slop: int = 0):
        self.query = _text("query", query)
        self.column = None if column is None else _text("column", column)
        self.slop = _count("slop", slop, 0)

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": "phrase", "query": self.query, "column": self.column, "slop": self.slop}


class PrefixQuery(FullTextQuery):
    """Terms starting with `query` (Pilum's addition to pylance's classes)."""

    def __init__(self, query: str, column: Optional[str] = None, *, max_expansions: int = 50):
        self.query = _text("query", query)
        self.column = None if column is None else _text("column", column)
        self.max_expansions = _count("max_expansions", max_expansions, 1)

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": "prefix", "query": self.query, "column": self.column, "max_expansions": self.max_expansions}


class MultiMatchQuery(FullTextQuery):
    """`query` matched in each of `columns`, scores added (times each column's boost)."""

    def __init__(
        self,
        query: str,
        columns: Sequence[str],
        *,
        boosts: Optional[Sequence[float]] = None,
        operator: Union[FullTextOperator, str] = FullTextOperator.OR,
    ):
        self.query = _text("query", query)
        if isinstance(columns, str) or not columns:
            raise ValueError("columns must be a non-empty list of column names")
        self.columns = [_text("columns", c) for c in columns]
        if boosts is not None and len(boosts) != len(self.columns):
            raise ValueError(f"{len(self.columns)} columns need {len(self.columns)} boosts, got {len(boosts)}")
        self.boosts = None if boosts is None else [float(b) for b in boosts]
        self.operator = _operator(operator)

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": "multi_match", "query": self.query, "columns": self.columns, "boosts": self.boosts, "operator": self.operator}


def _query(name: str, value: Any) -> FullTextQuery:
    if isinstance(value, str):
        return MatchQuery(value)
    if not isinstance(value, FullTextQuery):
        raise TypeError(f"{name} must be a full-text query, got {type(value).__name__}")
    return value


class BoostQuery(FullTextQuery):
    """Results of `positive`, scores times `negative_boost` where `negative` matches too."""

    def __init__(self, positive: FullTextQuery, negative: FullTextQuery, *, negative_boost: float = 0.5):
        self.positive = _query("positive", positive)
        self.negative = _query("negative", negative)
        self.negative_boost = float(negative_boost)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "kind": "boost",
            "positive": self.positive.to_dict(),
            "negative": self.negative.to_dict(),
            "negative_boost": self.negative_boost,
        }


class BooleanQuery(FullTextQuery):
    """Clauses ``(Occur, query)``: every MUST matches, SHOULD adds score (one is
    needed when there is no MUST), no MUST_NOT matches."""

    def __init__(self, queries: Sequence[Tuple[Union[Occur, str], FullTextQuery]]):
        clauses: List[Tuple[str, FullTextQuery]] = []
        for entry in queries:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise TypeError("BooleanQuery takes (Occur, query) pairs")
            occur, query = entry
            try:
                occur = Occur(occur.upper() if isinstance(occur, str) else occur).value
            except ValueError:
                raise ValueError(f"occur must be Occur.MUST, SHOULD or MUST_NOT, got {occur!r}") from None
            clauses.append((occur, _query("query", query)))
        if not any(o != Occur.MUST_NOT.value for o, _ in clauses):
            raise ValueError("a BooleanQuery needs at least one MUST or SHOULD clause")
        self.queries = clauses

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": "boolean", "clauses": [(o, q.to_dict()) for o, q in self.queries]}


def full_text_dict(value: Any) -> Dict[str, Any]:
    """The native form of ``full_text_query=``: a string, a query object, or
    pylance's dict ``{"query": str, "columns": [names]}``."""
    if isinstance(value, str):
        return MatchQuery(value).to_dict()
    if isinstance(value, FullTextQuery):
        return value.to_dict()
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"query", "columns"})
        if unknown:
            raise TypeError(f"full_text_query: unknown keys {unknown} (pylance's dict form has 'query' and 'columns')")
        query = _text("full_text_query['query']", value.get("query"))
        columns = value.get("columns")
        if columns is None:
            return MatchQuery(query).to_dict()
        if isinstance(columns, str):
            columns = [columns]
        if len(columns) == 1:
            return MatchQuery(query, columns[0]).to_dict()
        return MultiMatchQuery(query, columns).to_dict()
    raise TypeError(f"full_text_query must be a string, a pilum.query object or a dict, got {type(value).__name__}")
