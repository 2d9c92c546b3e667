"""service.api.quotas.spec_parameters: the weights and biases of the network a job will build."""

from __future__ import annotations

from typing import Any

from service.api.quotas import spec_parameters
from solver import JobSpec

POISSON_2D: dict[str, Any] = {
    "problem": {
        "kind": "divergence_form",
        "dimension": 2,
        "domain": {"box": {"lower": [0.0, 0.0], "upper": [1.0, 1.0]}},
        "diffusion": "1",
        "source": "1",
        "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
    },
}


def test_a_named_network_counts_its_layers() -> None:
    spec = JobSpec.model_validate({**POISSON_2D, "network": {"hidden": [8, 4]}})
    assert spec_parameters(spec) == 8 * 3 + 4 * 9 + 3 * 5  # 2 -> 8 -> 4 -> (u, sigma_1, sigma_2)


def test_the_solved_basis_counts_the_width_the_solver_chooses() -> None:
    spec = JobSpec.model_validate(POISSON_2D)
    assert spec.hidden == [1600]
    assert spec_parameters(spec) == 1600 * 3 + 3 * 1601


def test_a_tolerance_counts_the_widest_network_it_may_grow_to() -> None:
    spec = JobSpec.model_validate({**POISSON_2D, "training": {"tolerance": 1e-3}})
    assert spec_parameters(spec) == 4096 * 3 + 3 * 4097


def test_a_system_counts_one_output_per_unknown() -> None:
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "system",
                "dimension": 1,
                "unknowns": ["u", "q"],
                "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
                "equations": ["q - u_x0", "q_x0 + 1"],
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0", "unknown": "u"}],
            },
            "network": {"hidden": [4]},
        }
    )
    assert spec_parameters(spec) == 4 * 2 + 2 * 5
