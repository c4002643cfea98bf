"""The constraint language over dimension values: parsed, never `eval`-ed.

Grammar (lowest precedence first):
    expr    := or ('->' expr)?            # implication, right-associative
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | atom
    atom    := '(' expr ')' | NAME ('==' | '!=') VALUE | NAME ['not'] 'in' '[' VALUE (',' VALUE)* ']'
    VALUE   := a quoted string or a bare word (letters, digits, _, -, ~, .)

Evaluation is three-valued on partial cells: a dimension that is not assigned yet makes its
comparison unknown (None), so covering-array construction can prune early.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(
    r"\s*(?:(?P<arrow>->)|(?P<op>==|!=)|(?P<punct>[\[\](),])|(?P<str>'[^']*'|\"[^\"]*\")|(?P<word>[~\w.\-]+))"
)
_KEYWORDS = {"and", "or", "not", "in"}


class ConstraintSyntaxError(ValueError):
    """The constraint text does not parse; the message says where."""


@dataclass(frozen=True)
class Compare:
    dim: str
    values: frozenset[str]
    negated: bool  # True for != and "not in"

    def evaluate(self, cell: Mapping[str, str]) -> bool | None:
        value = cell.get(self.dim)
        if value is None:
            return None
        return (value in self.values) != self.negated


@dataclass(frozen=True)
class Not:
    operand: Node

    def evaluate(self, cell: Mapping[str, str]) -> bool | None:
        result = self.operand.evaluate(cell)
        return None if result is None else not result


@dataclass(frozen=True)
class And:
    left: Node
    right: Node

    def evaluate(self, cell: Mapping[str, str]) -> bool | None:
        left = self.left.evaluate(cell)
        if left is False:
            return False
        right = self.right.evaluate(cell)
        if right is False:
            return False
        return None if left is None or right is None else True


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node

    def evaluate(self, cell: Mapping[str, str]) -> bool | None:
        left = self.left.evaluate(cell)
        if left is True:
            return True
        right = self.right.evaluate(cell)
        if right is True:
            return True
        return None if left is None or right is None else False


def implies(left: Node, right: Node) -> Node:
    """`a -> b` is `not a or b`."""
    return Or(Not(left), right)


Node = Compare | Not | And | Or


@dataclass(frozen=True)
class Constraint:
    text: str
    root: Node

    def evaluate(self, cell: Mapping[str, str]) -> bool | None:
        """True or False when decidable on this (possibly partial) cell, None otherwise."""
        return self.root.evaluate(cell)

    def comparisons(self) -> list[Compare]:
        """Every comparison in the expression, for validation against the space."""
        found: list[Compare] = []
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Compare):
                found.append(node)
            elif isinstance(node, Not):
                stack.append(node.operand)
            else:
                stack.extend([node.left, node.right])
        return found


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConstraintSyntaxError(
                f"unexpected character {text[pos:].strip()[:1]!r} at column {pos + 1}"
            )
        tokens.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None, *, what: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise ConstraintSyntaxError(f"expression ends early; expected {what or expected or 'more'}")
        if expected is not None and token != expected:
            raise ConstraintSyntaxError(f"expected {expected!r} but found {token!r}")
        self.pos += 1
        return token

    def expr(self) -> Node:
        left = self.disjunction()
        if self.peek() == "->":
            self.take()
            return implies(left, self.expr())
        return left

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.peek() == "or":
            self.take()
            node = Or(node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.peek() == "and":
            self.take()
            node = And(node, self.negation())
        return node

    def negation(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Not(self.negation())
        return self.atom()

    def atom(self) -> Node:
        token = self.take(what="a dimension name or '('")
        if token == "(":
            node = self.expr()
            self.take(")")
            return node
        if token in _KEYWORDS or not re.fullmatch(r"[A-Za-z_]\w*", token):
            raise ConstraintSyntaxError(f"expected a dimension name but found {token!r}")
        op = self.take(what="'==', '!=', 'in' or 'not in'")
        if op in ("==", "!="):
            return Compare(token, frozenset([self.value()]), negated=op == "!=")
        negated = False
        if op == "not":
            negated = True
            op = self.take("in")
        if op != "in":
            raise ConstraintSyntaxError(
                f"expected '==', '!=', 'in' or 'not in' after {token!r}, found {op!r}"
            )
        self.take("[")
        values = {self.value()}
        while self.peek() == ",":
            self.take()
            values.add(self.value())
        self.take("]")
        return Compare(token, frozenset(values), negated=negated)

    def value(self) -> str:
        token = self.take(what="a value")
        if token[:1] in ("'", '"'):
            return token[1:-1]
        if token in _KEYWORDS or token in "[](),":
            raise ConstraintSyntaxError(f"expected a value but found {token!r}")
        return token


def parse_constraint(text: str) -> Constraint:
    """Parse one constraint; raises ConstraintSyntaxError naming the problem."""
    parser = _Parser(_tokenize(text))
    if not parser.tokens:
        raise ConstraintSyntaxError("the constraint is empty")
    root = parser.expr()
    if parser.peek() is not None:
        raise ConstraintSyntaxError(f"unexpected {parser.peek()!r} after a complete expression")
    return Constraint(text=text, root=root)


def map_compares(node: Node, rewrite: Callable[[Compare], Compare]) -> Node:
    """A copy of the expression with every comparison rewritten (used to resolve value spellings)."""
    if isinstance(node, Compare):
        return rewrite(node)
    if isinstance(node, Not):
        return Not(map_compares(node.operand, rewrite))
    if isinstance(node, And):
        return And(map_compares(node.left, rewrite), map_compares(node.right, rewrite))
    return Or(map_compares(node.left, rewrite), map_compares(node.right, rewrite))


def has_satisfying_cell(
    choices: Sequence[tuple[str, Sequence[str]]], constraints: Sequence[Constraint]
) -> bool:
    """Whether one cell taking a value from each (dimension, values) satisfies every constraint
    (depth-first; a partial cell a constraint already rules out is not extended)."""

    def extend(index: int, cell: dict[str, str]) -> bool:
        if any(c.evaluate(cell) is False for c in constraints):
            return False
        if index == len(choices):
            return True
        name, values = choices[index]
        for value in values:
            cell[name] = value
            if extend(index + 1, cell):
                return True
            del cell[name]
        return False

    return extend(0, {})
