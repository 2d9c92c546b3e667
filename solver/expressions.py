"""The safe expression language of docs/spec.md, parsed without eval.

An expression is parsed by Python's ``ast`` module in ``eval`` mode and then checked node by
node against a whitelist: numbers, ``+ - * / **``, unary minus/plus, parentheses, the
constants ``pi`` and ``e``, calls of the whitelisted functions by plain name, and the names
the context allows.  Anything else (attributes, subscripts, lambdas, comprehensions,
keywords, strings, calls of unknown names) is refused with an ``ExpressionError`` naming
the token, its column and what is allowed there.  Length and nesting are capped before
``ast`` sees the text, and the raw text is checked first for what Python's tokenizer would
let through (non-ASCII characters, comments, hexadecimal/octal/binary literals, '_' in
numbers: ``_check_characters``).  Constant sub-expressions are evaluated in float arithmetic
(``9**9**9**9`` overflows and is refused in microseconds).

Values are scalars (one number per point) or vectors (d numbers per point); arithmetic and
the elementwise functions broadcast a scalar over a vector, ``norm dot sum`` reduce.
``Expression.evaluate(env)`` runs on torch tensors: scalars of shape (n,), vectors (n, d).
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

MAX_LENGTH = 10_000
MAX_DEPTH = 64
MAX_CONSTANT = 1e300
MAX_LITERAL = 1000  # characters of one number literal (Python refuses ints of over 4300 digits)

# The raw text, before ``ast`` sees it: Python's tokenizer also accepts non-ASCII identifiers
# (NFKC-normalized, so a full-width 'ｘ' is 'x'), hexadecimal, octal and binary literals,
# '_' in numbers and comments, none of which belong to the language.
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|(?P<number>\.?\d[0-9A-Za-z_.]*(?:(?<=[eE])[+-][0-9A-Za-z_.]*)?)")
_PLAIN_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

Kind = Literal["scalar", "vector"]

ELEMENTWISE: dict[str, Callable[[Tensor], Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "atan": torch.atan,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "abs": torch.abs,
    "sign": torch.sign,
}
FLOAT_FUNCS: dict[str, Callable[[float], float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "tanh": math.tanh,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "abs": abs,
    "sign": lambda v: float((v > 0) - (v < 0)),
}
REDUCTIONS = ("norm", "dot", "sum")
VARIADIC = ("min", "max")
FUNCTIONS = tuple(ELEMENTWISE) + VARIADIC + REDUCTIONS
CONSTANTS = {"pi": math.pi, "e": math.e}
NON_SMOOTH = frozenset({"abs", "sign", "min", "max", "norm"})


class ExpressionError(ValueError):
    """A refused expression: ``token``, ``position`` (0-based column) and ``allowed`` say why."""

    def __init__(self, message: str, *, token: str, position: int, allowed: tuple[str, ...] = ()) -> None:
        self.token = token
        self.position = position
        self.allowed = allowed
        detail = f"{message} (token {token!r} at position {position})"
        if allowed:
            detail += f"; allowed here: {', '.join(allowed)}"
        super().__init__(detail)


def _close(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest allowed name, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Node:
    """A checked expression node.  ``op`` is 'num', 'name', a binary operator, 'neg' or a function."""

    op: str
    kind: Kind
    args: tuple[Node, ...] = ()
    value: float = 0.0
    name: str = ""


def _max_paren_depth(text: str) -> tuple[int, int]:
    depth = best = where = 0
    for index, char in enumerate(text):
        if char in "([":
            depth += 1
            if depth > best:
                best, where = depth, index
        elif char in ")]":
            depth -= 1
    return best, where


class _Checker:
    def __init__(self, text: str, names: Mapping[str, Kind]) -> None:
        self.text = text
        self.names = dict(names)

    def allowed(self) -> tuple[str, ...]:
        return tuple(sorted(self.names)) + tuple(CONSTANTS) + FUNCTIONS

    def fail(self, node: ast.AST, message: str, token: str | None = None) -> ExpressionError:
        pos = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", pos + 1) or pos + 1
        return ExpressionError(
            message, token=token or self.text[pos:end], position=pos, allowed=self.allowed()
        )

    def check(self, node: ast.AST, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH}")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise self.fail(node, "only real numbers are allowed as literals")
            try:
                value = float(node.value)
            except OverflowError:  # an int literal beyond the float range
                raise self.fail(node, "constant is not a finite number of moderate size") from None
            return self.constant(node, value)
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return Node("num", "scalar", value=CONSTANTS[node.id])
            if node.id not in self.names:
                raise self.fail(node, f"unknown name{_close(node.id, self.allowed())}", node.id)
            return Node("name", self.names[node.id], name=node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.check(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return inner
            return self.fold(node, Node("neg", inner.kind, (inner,)))
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
            op = ops.get(type(node.op))
            if op is None:
                raise self.fail(node, "operator not allowed (use + - * / **)")
            left, right = self.check(node.left, depth + 1), self.check(node.right, depth + 1)
            kind: Kind = "vector" if "vector" in (left.kind, right.kind) else "scalar"
            return self.fold(node, Node(op, kind, (left, right)))
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(node, f"{type(node).__name__} is not part of the expression language")

    def call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, "only calls of the listed functions by name are allowed")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(node.func, f"unknown function{_close(name, FUNCTIONS)}", name)
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        args = tuple(self.check(a, depth + 1) for a in node.args)
        if name in ELEMENTWISE:
            if len(args) != 1:
                raise self.fail(node, f"{name} takes one argument, got {len(args)}", name)
            return self.fold(node, Node(name, args[0].kind, args))
        if name in VARIADIC:
            if len(args) < 2:
                raise self.fail(node, f"{name} takes two or more arguments", name)
            kind: Kind = "vector" if any(a.kind == "vector" for a in args) else "scalar"
            return self.fold(node, Node(name, kind, args))
        wanted = 2 if name == "dot" else 1
        if len(args) != wanted or any(a.kind != "vector" for a in args):
            raise self.fail(node, f"{name} takes {wanted} vector argument(s)", name)
        return Node(name, "scalar", args)

    def constant(self, node: ast.AST, value: float) -> Node:
        if not math.isfinite(value) or abs(value) > MAX_CONSTANT:
            raise self.fail(node, "constant is not a finite number of moderate size")
        return Node("num", "scalar", value=value)

    def fold(self, node: ast.AST, built: Node) -> Node:
        """Evaluate constant sub-expressions now, in float arithmetic (so overflow is caught)."""
        if not built.args or any(a.op != "num" for a in built.args):
            return built
        vals = [a.value for a in built.args]
        try:
            result = _float_op(built.op, vals)
        except (OverflowError, ZeroDivisionError, ValueError) as exc:
            raise self.fail(node, f"constant sub-expression cannot be evaluated ({exc})") from None
        return self.constant(node, result)


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _float_op(op: str, vals: list[float]) -> float:
    if op == "neg":
        return -vals[0]
    if op in ARITHMETIC:
        return float(ARITHMETIC[op](vals[0], vals[1]))
    if op == "**":
        result = vals[0] ** vals[1]
        if isinstance(result, complex):
            raise ValueError("complex result")
        return float(result)
    if op == "min":
        return min(vals)
    if op == "max":
        return max(vals)
    return FLOAT_FUNCS[op](vals[0])


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression; ``evaluate`` maps an environment of tensors to a tensor."""

    text: str
    root: Node

    @property
    def kind(self) -> Kind:
        return self.root.kind

    def names(self) -> set[str]:
        found: set[str] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.op == "name":
                found.add(node.name)
            stack.extend(node.args)
        return found

    def functions(self) -> set[str]:
        """The functions the expression calls (e.g. {"sin", "max"})."""
        found: set[str] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.op in FUNCTIONS:
                found.add(node.op)
            stack.extend(node.args)
        return found

    def is_smooth(self) -> bool:
        """False when it calls a function with kinks or jumps (abs, sign, min, max, norm), so
        its gradient may be discontinuous; True does not promise more than that."""
        return not (self.functions() & NON_SMOOTH)

    def evaluate(self, env: Mapping[str, Tensor], like: Tensor) -> Tensor:
        """The value at n points: (n,) for a scalar expression, (n, d) for a vector one.

        ``env`` maps names to (n,) or (n, d) tensors; ``like`` fixes n, dtype and device for
        constant expressions.
        """
        out = _evaluate(self.root, env, like)
        if out.dim() == 0:
            out = out.expand(like.shape[0])
        return out


def _evaluate(node: Node, env: Mapping[str, Tensor], like: Tensor) -> Tensor:
    if node.op == "num":
        return like.new_tensor(node.value)
    if node.op == "name":
        return env[node.name]
    args = [_evaluate(a, env, like) for a in node.args]
    args = [_lift(a, node.args[i].kind, node.kind) for i, a in enumerate(args)]
    op = node.op
    if op == "neg":
        return -args[0]
    if op in ARITHMETIC:
        result: Tensor = ARITHMETIC[op](args[0], args[1])
        return result
    if op == "**":
        return torch.pow(args[0], args[1])
    if op in ELEMENTWISE:
        return ELEMENTWISE[op](args[0])
    if op in VARIADIC:
        result = args[0]
        pick = torch.minimum if op == "min" else torch.maximum
        for other in args[1:]:
            result = pick(result, other)
        return result
    if op == "norm":
        norm: Tensor = torch.linalg.vector_norm(args[0], dim=-1)
        return norm
    if op == "dot":
        return (args[0] * args[1]).sum(-1)
    return args[0].sum(-1)  # sum


def _lift(value: Tensor, kind: Kind, target: Kind) -> Tensor:
    """Make a scalar (n,) broadcast against vectors (n, d)."""
    if kind == "scalar" and target == "vector" and value.dim() == 1:
        return value.unsqueeze(-1)
    return value


def _check_characters(text: str) -> None:
    """Refuse what Python's tokenizer accepts but the language does not: non-ASCII
    characters, comments, and number literals other than plain decimals with an optional
    exponent (``16``, ``1.5``, ``.5``, ``2e-3``; not ``0x10``, ``0o7``, ``0b1``, ``1_000``, ``1j``)."""
    for index, char in enumerate(text):
        if not char.isascii():
            raise ExpressionError(
                "only ASCII characters are allowed (letters a-z, A-Z, digits 0-9, operators)",
                token=char,
                position=index,
            )
        if char == "#":
            raise ExpressionError("comments are not allowed", token=char, position=index)
    for match in _TOKEN.finditer(text):
        number = match.group("number")
        if number is None:
            continue
        token = number if len(number) <= 40 else number[:40] + "..."
        if len(number) > MAX_LITERAL:
            raise ExpressionError(
                f"number literal longer than {MAX_LITERAL} characters ({len(number)})",
                token=token,
                position=match.start(),
            )
        if _PLAIN_NUMBER.fullmatch(number) is None:
            raise ExpressionError(
                "number literal is not a plain decimal such as 16, 1.5 or 2e-3 (hexadecimal, octal "
                "and binary literals, '_' between digits and imaginary 'j' are not allowed; a product "
                "needs '*', as in 2*x)",
                token=token,
                position=match.start(),
            )


def parse(text: str, names: Mapping[str, Kind], *, want: Kind | None = "scalar") -> Expression:
    """Parse and check ``text`` against the allowed ``names`` (name -> 'scalar' or 'vector')."""
    if not isinstance(text, str):
        raise ExpressionError("an expression must be a string", token=str(text)[:20], position=0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression longer than {MAX_LENGTH} characters ({len(text)})",
            token=text[:20],
            position=MAX_LENGTH,
        )
    depth, where = _max_paren_depth(text)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"expression nested deeper than {MAX_DEPTH}", token=text[where], position=where)
    if not text.strip():
        raise ExpressionError("empty expression", token="", position=0)
    _check_characters(text.strip())
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        pos = max((exc.offset or 1) - 1, 0)
        raise ExpressionError(
            f"syntax error: {exc.msg}", token=text.strip()[pos : pos + 1], position=pos
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(
            f"expression cannot be parsed ({type(exc).__name__})", token="", position=0
        ) from None
    checker = _Checker(text.strip(), names)
    root = checker.check(tree.body)
    if want is not None and root.kind != want:
        raise ExpressionError(
            f"expression must be a {want}, but it is a {root.kind} (reduce vectors with norm, dot or sum)",
            token=text.strip()[:20],
            position=0,
        )
    return Expression(text, root)


def space_names(dimension: int, has_time: bool) -> dict[str, Kind]:
    """The names every expression of a problem may use: t, x0.., x/y/z (d <= 3), x_vec."""
    names: dict[str, Kind] = {f"x{i}": "scalar" for i in range(dimension)}
    if dimension <= 3:
        names.update({alias: "scalar" for alias in ("x", "y", "z")[:dimension]})
    names["x_vec"] = "vector"
    if has_time:
        names["t"] = "scalar"
    return names


def equation_names(dimension: int, has_time: bool) -> dict[str, Kind]:
    """Names inside a first_order equation: the space names plus u, u_t, u_x*, grad_u."""
    names = space_names(dimension, has_time)
    names.update({"u": "scalar", "grad_u": "vector"})
    names.update({f"u_x{i}": "scalar" for i in range(dimension)})
    if has_time:
        names["u_t"] = "scalar"
    return names


def space_env(t: Tensor | None, x: Tensor) -> dict[str, Tensor]:
    """Tensors for ``space_names``: x of shape (n, d), t of shape (n,) or None."""
    env: dict[str, Tensor] = {f"x{i}": x[:, i] for i in range(x.shape[1])}
    for i, alias in enumerate(("x", "y", "z")[: x.shape[1]] if x.shape[1] <= 3 else ()):
        env[alias] = x[:, i]
    env["x_vec"] = x
    if t is not None:
        env["t"] = t
    return env
