"""The verdict (solver.aposteriori.bound): it headlines the most informative promise, states
it relative to the solution's size, adds the best gradient figure, and never prints an
indicator as a bound."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from solver.aposteriori import ErrorBound, conclusion, headline, ordered, verdict
from solver.aposteriori.bound import KINDS, QUANTITIES


def bound(quantity: str, value: float, kind: str) -> ErrorBound:
    confidence = 0.999 if kind == "statistical" else None
    return ErrorBound(quantity, value, kind, confidence, "Lipschitz data", "test")  # type: ignore[arg-type]


# transport-1d as a newcomer saw it: a loose certified max bound first, the useful rms bound third
NEWCOMER = [
    bound("max_abs_error", 2.18, "certified"),
    bound("max_gradient_error", 0.212, "indicator"),
    bound("rms_error", 1.3e-2, "statistical"),
    bound("rms_gradient_error", 1.2e-2, "indicator"),
]


def test_the_verdict_headlines_the_tightest_promise_not_the_most_certain() -> None:
    best = headline(NEWCOMER)
    assert best is not None and best.quantity == "rms_error" and best.kind == "statistical"
    line = verdict(NEWCOMER, scale=1.0)
    assert line.startswith("rms |u - u*| <= 1.30e-02 (statistical, 99.9%)")
    assert "1.3 % of max |u| = 1.00e+00 (99.9 % confidence)" in line
    assert "2.18" not in line  # the loose certified max bound is listed, not headlined


def test_an_indicator_is_never_printed_as_a_bound() -> None:
    line = verdict(NEWCOMER, scale=1.0)
    assert "gradient: rms |grad u - grad u*| ~ 1.20e-02 (indicator: an estimate, not a bound)" in line
    for item in NEWCOMER:
        text = item.verdict()
        assert ("<=" in text) == (item.kind != "indicator")
    only = [bound("rms_error", 3e-2, "indicator")]
    assert "<=" not in verdict(only, scale=2.0) and "nothing is promised" in verdict(only, scale=2.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(QUANTITIES),
            st.one_of(st.floats(1e-8, 1e3), st.just(math.inf)),
            st.sampled_from(KINDS),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_promises_come_first_and_the_headline_is_the_smallest_value_promise(
    items: list[tuple[str, float, str]],
) -> None:
    bounds = [bound(q, v, k) for q, v, k in items]
    listed = ordered(bounds)
    assert sorted(map(id, listed)) == sorted(map(id, bounds))
    promises = [b.promise for b in listed]
    assert promises == sorted(promises, reverse=True)  # every promise before any indicator
    values = [b.value for b in listed if b.promise and b.quantity in ("max_abs_error", "rms_error")]
    assert values == sorted(values)  # the tightest value promise first
    value_promises = [b for b in bounds if b.promise and b.quantity in ("max_abs_error", "rms_error")]
    best = headline(bounds)
    if value_promises:
        assert best is not None and best.promise
        assert best.value == min(b.value for b in value_promises)
    line = verdict(bounds, scale=1.0)
    if not any(b.promise for b in bounds):
        assert "<=" not in line


def test_the_conclusion_says_how_much_is_promised() -> None:
    certified = bound("max_abs_error", 0.05, "certified")
    assert (
        conclusion(certified, 2.0)
        == "the max error is at most 2.5 % of max |u| = 2.00e+00 (certain, given: Lipschitz data)"
    )
    assert conclusion(certified, None) is None and conclusion(certified, 0.0) is None
    assert verdict([]) == "no error bound for this problem"
    assert verdict([bound("rms_error", math.inf, "indicator")]) == "no error bound for this problem"


def test_a_model_states_its_verdict_relative_to_its_own_size() -> None:
    from solver import JobSpec, solve

    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 1,
                "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
                "diffusion": "1",
                "source": "3*pi**2*sin(pi*x0)",
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
            },
            "network": {"hidden": [60]},
            "training": {"optimizer": "ls", "points": {"interior": 64, "boundary": 8}},
        }
    )
    model = solve(spec)
    estimate = model.estimate
    assert estimate is not None
    assert abs(estimate["solution_scale"] - 3.0) < 0.05  # max |u| = 3, sampled from the model
    best = headline(model.bounds)
    assert best is not None and estimate["verdict"].startswith(best.verdict())
    assert f"of max |u| = {estimate['solution_scale']:.2e}" in estimate["verdict"]
    assert [b.to_json() for b in ordered(model.bounds)] == estimate["bounds"]
