"""bench/solved_width.py: the spec it solves and the peer points it draws."""

from __future__ import annotations

import pytest

from bench import solved_width


def test_the_spec_is_the_example_on_one_solved_layer_of_the_width_asked() -> None:
    spec = solved_width.solved_spec(solved_width.EXAMPLES / "poisson-2d.json", 300, 2)
    assert spec.hidden == [300] and spec.pipeline == "ls" and spec.training.seed == 2
    assert spec.problem.kind == "divergence_form"


def test_a_peer_point_keeps_colons_in_its_label() -> None:
    assert solved_width.parse_peer("DeepXDE: tanh:167.6:7.7e-4") == ("DeepXDE: tanh", 167.6, 7.7e-4)
    with pytest.raises(ValueError):
        solved_width.parse_peer("no figures")
