"""The safe expression language: evaluation, vector semantics, and refusal of everything else."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.expressions import ExpressionError, equation_names, parse, space_env, space_names

NAMES = space_names(3, has_time=True)


def evaluate(text: str, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return parse(text, NAMES).evaluate(space_env(t, x), x[:, 0])


def test_scalar_arithmetic_functions_and_constants() -> None:
    x = torch.tensor([[0.3, -0.7, 1.2], [2.0, 0.5, -1.0]], dtype=torch.float64)
    t = torch.tensor([0.1, 0.9], dtype=torch.float64)
    got = evaluate("exp(-2*pi**2*t)*sin(pi*x)*sin(pi*y) + abs(z)**1.5 - max(x, y, 0.4) + sign(y)", x, t)
    xs, ys, zs, ts = x[:, 0], x[:, 1], x[:, 2], t
    want = (
        torch.exp(-2 * math.pi**2 * ts) * torch.sin(math.pi * xs) * torch.sin(math.pi * ys)
        + zs.abs() ** 1.5
        - torch.maximum(torch.maximum(xs, ys), torch.tensor(0.4, dtype=torch.float64))
        + torch.sign(ys)
    )
    torch.testing.assert_close(got, want)
    assert float(evaluate("e", x, t)[0]) == pytest.approx(math.e)


def test_vectors_broadcast_and_reduce() -> None:
    x = torch.tensor([[3.0, 4.0, 0.0], [1.0, -2.0, 2.0]], dtype=torch.float64)
    t = torch.tensor([0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(evaluate("norm(x_vec)", x, t), torch.tensor([5.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(evaluate("dot(x_vec, x_vec) + 10*t", x, t), (x**2).sum(1) + 10 * t)
    torch.testing.assert_close(
        evaluate("sum(max(0, abs(x_vec) - t)**2)", x, t),
        (torch.clamp(x.abs() - t[:, None], min=0) ** 2).sum(1),
    )


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(-5, 5),
    b=st.floats(0.1, 5),
    op=st.sampled_from(["+", "-", "*", "/"]),
    fn=st.sampled_from(["sin", "cos", "tanh", "exp", "abs", "sinh"]),
)
def test_random_expressions_agree_with_numpy(a: float, b: float, op: str, fn: str) -> None:
    x = torch.linspace(-1, 1, 7, dtype=torch.float64).unsqueeze(1).repeat(1, 3)
    t = torch.zeros(7, dtype=torch.float64)
    got = evaluate(f"{fn}(({a!r}) {op} x0) {op} ({b!r})", x, t).numpy()
    funcs = {"sin": np.sin, "cos": np.cos, "tanh": np.tanh, "exp": np.exp, "abs": np.abs, "sinh": np.sinh}
    ops = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
    xs = x[:, 0].numpy()
    with np.errstate(all="ignore"):
        want = ops[op](funcs[fn](ops[op](a, xs)), b)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_equation_names_allow_u_and_its_derivatives() -> None:
    names = equation_names(2, has_time=True)
    expr = parse("u_t + dot(grad_u, x_vec) - u*u_x1 + norm(grad_u) - 1", names)
    assert expr.names() == {"u_t", "grad_u", "x_vec", "u", "u_x1"}
    with pytest.raises(ExpressionError, match="unknown name"):
        parse("u + 1", NAMES)


INJECTIONS = [
    "__import__('os').system('true')",
    "x.__class__",
    "(lambda: 1)()",
    "[v for v in x_vec]",
    "open('/etc/passwd')",
    "foo(x)",
    "x[0]",
    "'text'",
    "sin(x=1)",
    "x if t else y",
    "x < y",
    "9**9**9**9",
    "1/0",
    "(-8)**(1/3)",
    "x" * 100_000,
    "(" * 200 + "x" + ")" * 200,
    "-" * 5000 + "x",
    "",
    "x +",
    "True",
    "1j",
    "x @ y",
    "x // y",
]


@pytest.mark.parametrize("text", INJECTIONS, ids=lambda s: s[:30])
def test_injection_attempts_are_refused_with_token_and_position(text: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text, NAMES)
    err = info.value
    assert isinstance(err.position, int) and err.position >= 0
    assert isinstance(err.token, str)
    assert "token" in str(err)


@pytest.mark.parametrize(
    ("text", "token", "position"),
    [
        ("open('/etc/passwd')", "open", 0),
        ("2*x + foo(x)", "foo", 6),
        ("(lambda: 1)()", "lambda: 1", 1),
        ("x + y.real", "y.real", 4),
        ("9**9**9**9", "9**9**9", 3),
        ("x + 'text'", "'text'", 4),
        ("sin(x) + x[0]", "x[0]", 9),
        ("x" * 100_000, "x" * 20, 10_000),
        ("(" * 200 + "x" + ")" * 200, "(", 199),
    ],
    ids=lambda v: str(v)[:20],
)
def test_errors_name_the_offending_token_and_where_it_starts(text: str, token: str, position: int) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text, NAMES)
    assert (info.value.token, info.value.position) == (token, position)
    assert f"at position {position}" in str(info.value)


def test_unknown_name_error_lists_the_allowed_names() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("sin(pi*w)", NAMES)
    assert info.value.token == "w" and info.value.position == 7
    assert "x_vec" in info.value.allowed and "sin" in info.value.allowed


def test_vector_result_where_a_scalar_is_needed_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be a scalar"):
        parse("x_vec * 2", NAMES)
    with pytest.raises(ExpressionError, match="vector argument"):
        parse("norm(x)", NAMES)


def test_constants_are_folded_in_float_arithmetic() -> None:
    expr = parse("2**10 + pi", NAMES)
    assert expr.root.op == "num" and expr.root.value == pytest.approx(1024 + math.pi)


@pytest.mark.parametrize(
    ("text", "smooth"),
    [
        ("sin(x0) * exp(-t)", True),
        ("dot(x_vec, x_vec) + sqrt(2)", True),
        ("abs(x0)", False),
        ("max(0, 1 - x0)", False),
        ("min(x0, x1) + 1", False),
        ("norm(x_vec)", False),
        ("sign(x0) * x0", False),
    ],
)
def test_smoothness_is_read_off_the_functions_called(text: str, smooth: bool) -> None:
    expression = parse(text, space_names(2, has_time=True))
    assert expression.is_smooth() is smooth


@pytest.mark.parametrize(
    ("text", "token", "position", "says"),
    [
        ("x + " + "1" * 400, "1" * 400, 4, "constant is not a finite number of moderate size"),
        ("1" * 5000, "1" * 40 + "...", 0, "number literal longer than 1000 characters (5000)"),
        ("ｘ + 1", "ｘ", 0, "only ASCII characters are allowed"),
        ("x０ + 1", "０", 1, "only ASCII characters are allowed"),
        ("sin(x) # a comment", "#", 7, "comments are not allowed"),
        ("0x10 * x", "0x10", 0, "number literal is not a plain decimal"),
        ("x + 0o7", "0o7", 4, "number literal is not a plain decimal"),
        ("0b1", "0b1", 0, "number literal is not a plain decimal"),
        ("1_000 * x", "1_000", 0, "number literal is not a plain decimal"),
        ("2x", "2x", 0, "number literal is not a plain decimal"),
        ("x + 1e5j", "1e5j", 4, "number literal is not a plain decimal"),
    ],
    ids=[
        "400-digits",
        "5000-digits",
        "full-width-x",
        "full-width-0",
        "comment",
        "hex",
        "octal",
        "binary",
        "underscore",
        "juxtaposed",
        "imaginary",
    ],
)
def test_what_pythons_tokenizer_accepts_but_the_language_does_not_is_refused(
    text: str, token: str, position: int, says: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text, NAMES)
    assert str(info.value).startswith(says)
    assert (info.value.token, info.value.position) == (token, position)


def test_plain_decimal_literals_in_every_form_are_accepted() -> None:
    expr = parse("1.5e-3 + .5 + 2. + 1E+2 + 3e2 + 10 + x1 - x1", NAMES)
    assert expr.root.op != "num"
    x = torch.tensor([[0.3, -0.7, 1.2]], dtype=torch.float64)
    got = float(expr.evaluate(space_env(torch.zeros(1, dtype=torch.float64), x), x[:, 0])[0])
    assert got == pytest.approx(1.5e-3 + 0.5 + 2.0 + 100 + 300 + 10)
