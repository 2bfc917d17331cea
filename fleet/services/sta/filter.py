"""A small, safe OData `$filter` parser for the SensorThings API: text -> SQLAlchemy expression.

Recursive descent over a tokenizer; no eval, no SQL text: property paths are looked up in the entity's
table of known properties (the resolver), literals become bound parameters. Supported: comparison (eq ne
gt ge lt le), logical (and or not), arithmetic (add sub mul div mod), parentheses, literals (numbers,
'strings', true/false/null, ISO 8601 date-times such as 2026-12-01T00:00:00Z), and the functions in
FUNCTIONS. Anything else is a FilterError naming what and where, which the route answers with 400.
"""

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, and_, cast, extract, func, literal, not_, or_
from sqlalchemy.sql import ColumnElement


class FilterError(ValueError):
    """A $filter (or $orderby) the server cannot read: the message says what and where."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
     |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
     |(?P<string>'(?:[^']|'')*')
     |(?P<name>[A-Za-z_@][\w@.]*(?:/[A-Za-z_@][\w@.]*)*)
     |(?P<punct>[(),-])
    )""",
    re.VERBOSE,
)
COMPARISONS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
FLIPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
MAX_LENGTH = 2000
MAX_DEPTH = 40


def tokenize(text: str) -> list[tuple[str, str, int]]:
    if len(text) > MAX_LENGTH:
        raise FilterError(f"$filter longer than {MAX_LENGTH} characters")
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            at = len(text) - len(text[pos:].lstrip())
            raise FilterError(f"cannot read $filter at character {at + 1}: {text[at : at + 20]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


class _Value:
    """A literal kept as a Python value until it meets a column (so it takes the column's type)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _sql(x: Any) -> Any:
    return literal(x.value) if isinstance(x, _Value) else x


def _text(x: Any) -> Any:
    return x.value if isinstance(x, _Value) else x


FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    # Strings (OData v3 / STA 1.1 table 24)
    "substringof": (2, lambda needle, hay: _sql(hay).contains(_text(needle), autoescape=True)),
    "startswith": (2, lambda s, p: _sql(s).startswith(_text(p), autoescape=True)),
    "endswith": (2, lambda s, p: _sql(s).endswith(_text(p), autoescape=True)),
    "length": (1, lambda s: func.length(_sql(s))),
    "tolower": (1, lambda s: func.lower(_sql(s))),
    "toupper": (1, lambda s: func.upper(_sql(s))),
    "trim": (1, lambda s: func.trim(_sql(s))),
    "concat": (2, lambda a, b: _sql(a).concat(_sql(b))),
    # Dates
    "year": (1, lambda d: extract("year", _sql(d))),
    "month": (1, lambda d: extract("month", _sql(d))),
    "day": (1, lambda d: extract("day", _sql(d))),
    "hour": (1, lambda d: extract("hour", _sql(d))),
    "minute": (1, lambda d: extract("minute", _sql(d))),
    "now": (0, lambda: _Value(datetime.now(UTC))),
    # Numbers
    "round": (1, lambda x: func.round(cast(_sql(x), Float))),
}


class Parser:
    """Parses one $filter against `resolve(path) -> column expression` (raises FilterError if unknown)."""

    def __init__(self, text: str, resolve: Callable[[str], ColumnElement]) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.resolve = resolve
        self.text = text

    # --- token helpers
    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _word(self, *words: str) -> str | None:
        token = self._peek()
        if token and token[0] == "name" and token[1] in words:
            self.pos += 1
            return token[1]
        return None

    def _punct(self, char: str) -> bool:
        token = self._peek()
        if token and token[0] == "punct" and token[1] == char:
            self.pos += 1
            return True
        return False

    def _expect(self, char: str) -> None:
        if not self._punct(char):
            raise FilterError(f"expected {char!r} {self._where()}")

    def _where(self) -> str:
        token = self._peek()
        return f"at character {token[2] + 1} ({token[1]!r})" if token else "at the end of $filter"

    # --- grammar
    def parse(self) -> ColumnElement:
        if not self.tokens:
            raise FilterError("$filter is empty")
        result = self._or()
        if self._peek() is not None:
            raise FilterError(f"unexpected {self._where()}")
        return _sql(result)

    def _nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"$filter nested deeper than {MAX_DEPTH} levels")

    def _or(self) -> Any:
        left = self._and()
        while self._word("or"):
            left = or_(_sql(left), _sql(self._and()))
        return left

    def _and(self) -> Any:
        left = self._not()
        while self._word("and"):
            left = and_(_sql(left), _sql(self._not()))
        return left

    def _not(self) -> Any:
        if self._word("not"):
            self._nest()
            return not_(_sql(self._not()))
        return self._comparison()

    def _comparison(self) -> Any:
        left = self._additive()
        op = self._word(*COMPARISONS)
        if op is None:
            return left
        right = self._additive()
        if isinstance(left, _Value) and not isinstance(right, _Value):
            left, right, op = right, left, FLIPPED[op]  # the column first: the literal takes its type
        if isinstance(left, _Value):
            return COMPARISONS[op](literal(left.value), right.value)
        return COMPARISONS[op](left, right.value if isinstance(right, _Value) else right)

    def _additive(self) -> Any:
        left = self._multiplicative()
        while op := self._word("add", "sub"):
            left = ARITHMETIC[op](_sql(left), _sql(self._multiplicative()))
        return left

    def _multiplicative(self) -> Any:
        left = self._unary()
        while op := self._word("mul", "div", "mod"):
            right = _sql(self._unary())
            left = _modulo(_sql(left), right) if op == "mod" else ARITHMETIC[op](_sql(left), right)
        return left

    def _unary(self) -> Any:
        token = self._peek()
        if token is None:
            raise FilterError("$filter ends where a value was expected")
        kind, text, _ = token
        if kind == "punct" and text == "(":
            self.pos += 1
            self._nest()
            inner = self._or()
            self._expect(")")
            self.depth -= 1
            return inner
        self.pos += 1
        if kind == "punct" and text == "-":  # negation
            self._nest()
            inner = self._unary()
            self.depth -= 1
            return _Value(-inner.value) if isinstance(inner, _Value) else -inner
        if kind == "number":
            return _Value(float(text) if any(c in text for c in ".eE") else int(text))
        if kind == "string":
            return _Value(text[1:-1].replace("''", "'"))
        if kind == "datetime":
            return _Value(_datetime(text))
        if kind == "name":
            if text in ("true", "false"):
                return _Value(text == "true")
            if text == "null":
                return _Value(None)
            if self._punct("("):
                return self._function(text)
            return self.resolve(text)
        raise FilterError(f"unexpected {text!r} at character {token[2] + 1}")

    def _function(self, name: str) -> Any:
        if name not in FUNCTIONS:
            raise FilterError(f"unknown function {name}(): known are {', '.join(sorted(FUNCTIONS))}")
        arity, build = FUNCTIONS[name]
        args: list[Any] = []
        if not self._punct(")"):
            self._nest()
            args.append(self._or())
            while self._punct(","):
                args.append(self._or())
            self._expect(")")
            self.depth -= 1
        if len(args) != arity:
            raise FilterError(f"{name}() takes {arity} argument(s), got {len(args)}")
        return build(*args)


def _modulo(a: Any, b: Any) -> Any:
    """OData's mod keeps fractions (7.5 mod 7 = 0.5); SQL's % truncates to integers on SQLite and is not
    defined for double precision on PostgreSQL, so: a - b * trunc(a / b), in floating point on both."""
    a, b = cast(a, Float), cast(b, Float)
    return a - b * func.trunc(a / b)


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FilterError(f"not a date-time: {text}") from exc
    return moment.astimezone(UTC)


def parse_filter(text: str, resolve: Callable[[str], ColumnElement]) -> ColumnElement:
    return Parser(text, resolve).parse()
