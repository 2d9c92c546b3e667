"""bench/approximation.py on tiny sizes: the experiment code measures what it says."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import approximation as ap


def test_trained_runs_are_measured_and_a_shallow_net_has_at_most_n_plus_1_pieces() -> None:
    families = [("shallow", 2, [2]), ("shallow", 6, [6]), ("deep-w8", 16, [8, 8])]
    runs = ap.run_seed000(150, [0, 1], ap.TARGETS[:1], families, log=False)
    assert len(runs) == 6
    for run in runs:
        assert all(math.isfinite(v) for v in (run.l2_squared, run.linf, run.grad_linf))
        assert run.l2_squared <= run.linf**2 + 1e-15  # a mean square never exceeds the squared sup
        assert run.pieces is not None and run.pieces >= 1
        if run.family == "shallow":
            assert run.pieces <= run.nodes + 1  # one hidden layer of N ReLUs: at most N kinks in 1-D


def test_fits_recover_known_decays() -> None:
    def runs(law: str) -> list[ap.Run]:
        found = []
        for n in (2, 4, 8, 16, 32):
            value = 2.0**-n if law == "exp" else n**-2.0
            found.append(ap.Run("t", "shallow", n, 1, 0, value, 1.0, 1.0, None, 0.0))
        return found

    exponential = ap.fit(runs("exp"), "t", "shallow", "l2_squared")
    assert exponential.exponential_b == pytest.approx(1.0) and exponential.exponential_r2 == pytest.approx(
        1.0
    )
    power = ap.fit(runs("pow"), "t", "shallow", "l2_squared")
    assert power.power_p == pytest.approx(2.0) and power.power_r2 == pytest.approx(1.0)
    assert power.exponential_r2 < 0.95


def test_the_hat_network_meets_its_error_formula() -> None:
    rows = ap.run_seed001((2, 8, 32), (2, 4))
    for row in rows:
        assert row.value_error <= row.value_bound * (1 + 1e-9)
        assert row.gradient_error <= row.gradient_bound * (1 + 1e-9)
    one_d = [r for r in rows if r.dim == 1]
    # 1-D: both formulas are sharp for sin(2 pi x) on fine grids
    assert one_d[-1].value_error > 0.95 * one_d[-1].value_bound
    assert one_d[-1].gradient_error > 0.95 * one_d[-1].gradient_bound


def test_square_and_product_meet_their_promises_sharply_and_trained_nets_are_recorded() -> None:
    rows = ap.run_square_depth((1, 3, 6), (2,), 50, [0])
    for row in rows:
        if row.value_bound is None or row.derivative_bound is None:
            assert row.construction == "trained x^2" and math.isfinite(row.value_error)
            continue
        assert row.value_error <= row.value_bound * (1 + 1e-9)
        assert row.derivative_error <= row.derivative_bound * (1 + 1e-9)
        assert row.value_error >= 0.9 * row.value_bound  # sharp, measured off the kinks
    squares = [r for r in rows if r.construction == "square"]
    assert [r.depth for r in squares] == [2, 4, 7]


def test_polynomial_rows_keep_the_promise() -> None:
    rows = ap.run_polynomials((2, 4), (1e-2, 1e-5))
    for row in rows:
        assert row.error <= row.promised * (1 + 1e-9) and row.promised <= row.eps
    assert rows[1].depth > rows[0].depth  # smaller eps, deeper network


def test_figures_and_results_are_written(tmp_path: Path) -> None:
    runs = ap.run_seed000(30, [0], ap.TARGETS[:1], [("shallow", 2, [2]), ("shallow", 4, [4])], log=False)
    ap.figure_seed000(runs, "l2_squared", "L", tmp_path / "l2.png")
    ap.figure_pieces(runs, tmp_path / "pieces.png")
    ap.figure_seed001(ap.run_seed001((2, 4), (2,)), tmp_path / "hat.png")
    ap.figure_square(ap.run_square_depth((1, 2), (), 0, []), tmp_path / "square.png")
    ap.figure_polynomials(ap.run_polynomials((2,), (1e-2,)), tmp_path / "poly.png")
    for name in ("l2", "pieces", "hat", "square", "poly"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
