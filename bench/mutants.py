"""Mutation check: break each documented behaviour on purpose and see a test fail.

Each mutant is one exact text replacement in one file (the text must occur exactly once).
For each mutant the script copies the working tree (tracked and untracked, not ignored
files) to a temporary folder, applies the replacement, and runs the tests named for it
there with pytest.  The mutant is *killed* when those tests fail.  Before any mutant, the
same tests run on the unbroken copy and must pass: a test that fails anyway kills nothing.

    python bench/mutants.py                  # every mutant, a markdown table on stdout
    python bench/mutants.py --only resume    # the mutants whose name contains "resume"
    python bench/mutants.py --out docs/mutants.md

The copy imports its own packages (PYTHONPATH is the copy; checked before the run), and
subprocesses that the tests start (``relupde serve``, Dask workers) inherit that.  The
environment sets what ``.ci/run`` sets, so mandatory checks are mandatory here too.
Runs take minutes: the live tests start real servers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One breakage: in ``path``, ``old`` (occurring once) becomes ``new``; ``tests`` must fail."""

    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


T_TRAINING = "tests/solver/test_training.py"
T_LOSS = "tests/solver/test_loss.py"
T_API = "tests/service/test_api.py"
T_CLIENT = "tests/service/test_client.py"
T_FAILURES = "tests/service/test_failures.py"
T_SPEC = "tests/solver/test_spec.py"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "resume",
        "a resumed solve restarts from step 0 (the checkpoint is never loaded)",
        "solver/solve.py",
        "        trainer.load_checkpoint(path)\n",
        "        pass  # mutant: never resume\n",
        (f"{T_TRAINING}::test_resume_from_a_checkpoint_equals_the_uninterrupted_run",),
    ),
    Mutant(
        "resume-live",
        "a job resumed after kill -9 restarts from step 0",
        "solver/solve.py",
        "        trainer.load_checkpoint(path)\n",
        "        pass  # mutant: never resume\n",
        ("tests/service/test_live.py::test_a_killed_worker_does_not_lose_the_job",),
    ),
    Mutant(
        "artifact-unverified",
        "/artifact sends the weights without checking their sha256",
        "service/api/deps.py",
        "    if hashlib.sha256(blob).hexdigest() != record.weights_sha256:\n",
        "    if False:  # mutant: no check\n",
        (f"{T_API}::test_a_damaged_model_answers_model_corrupted_on_every_read_path",),
    ),
    Mutant(
        "artifact-symlink",
        "/artifact follows a symlink in place of the weights",
        "service/api/deps.py",
        "    if path.is_symlink() or path.parent.is_symlink():\n",
        "    if False:  # mutant: follow links\n",
        (f"{T_API}::test_a_damaged_model_answers_model_corrupted_on_every_read_path",),
    ),
    Mutant(
        "corrupted-is-500",
        "evaluate on a damaged model folder answers a bare 500",
        "service/api/deps.py",
        "    except ModelFileError as exc:  # the message names no server path\n",
        "    except KeyError as exc:  # mutant: damage escapes\n",
        (f"{T_API}::test_a_damaged_model_answers_model_corrupted_on_every_read_path",),
    ),
    Mutant(
        "download-unverified",
        "client.download writes whatever bytes arrive",
        "service/client.py",
        "        if self._expected is not None and found != self._expected:\n",
        "        if False:  # mutant: no check\n",
        (f"{T_CLIENT}::test_a_download_that_fails_its_sha256_is_refused",),
    ),
    Mutant(
        "epsilon-inflated",
        "the global estimate's eps is 10x the envelopes' maximum",
        "solver/estimate.py",
        "    return float((env0 / weight).max()), float((env1 / weight).max())\n",
        "    return 10 * float((env0 / weight).max()), 10 * float((env1 / weight).max())\n",
        ("tests/solver/test_estimate.py::test_epsilon_is_the_envelopes_maximum_up_to_the_grid",),
    ),
    Mutant(
        "sup-reports-mean",
        'the "sup" figure is the mean |r|, not the max',
        "solver/loss.py",
        "    return float(magnitudes.detach().max())\n",
        "    return float(magnitudes.detach().mean())\n",
        (
            f"{T_LOSS}::test_reported_figure_is_the_sample_sup_or_the_mean_square",
            f"{T_LOSS}::test_training_reports_the_max_residual_of_every_term",
        ),
    ),
    Mutant(
        "p-held-at-2",
        "the L^p exponent stays at 2 (an L^2 loss, not a sup)",
        "solver/loss.py",
        "    return float(P_MIN * (P_MAX / P_MIN) ** frac)\n",
        "    return P_MIN\n",
        (
            f"{T_LOSS}::test_p_rises_geometrically_from_2_to_p_max",
            f"{T_LOSS}::test_the_last_step_minimizes_the_l64_mean_and_the_first_the_l2_mean",
        ),
    ),
    Mutant(
        "em-frozen-volatility",
        "Euler-Maruyama evaluates the volatility at the start point only",
        "solver/kinds/kolmogorov.py",
        "apply_matrix(self.k_vol, env, dw)",
        "apply_matrix(self.k_vol, space_env(ts, xs), dw)",
        ("tests/solver/test_feynman_kac.py::test_euler_maruyama_evaluates_the_volatility_along_the_path",),
    ),
    Mutant(
        "em-no-sqrt-dt",
        "Brownian increments scaled by dt instead of sqrt(dt)",
        "solver/kinds/kolmogorov.py",
        "            dw = noise[k] * dt.sqrt().unsqueeze(1)\n",
        "            dw = noise[k] * dt.unsqueeze(1)\n",
        (
            "tests/solver/test_feynman_kac.py::test_heat_targets_are_unbiased_with_exact_gradient",
            "tests/solver/test_feynman_kac.py::test_euler_maruyama_evaluates_the_volatility_along_the_path",
        ),
    ),
    Mutant(
        "time-limit-forgets-best",
        "a run stopped by its time limit returns its last parameters, not its best",
        "solver/training.py",
        "            self._load_params(self.state.best)\n",
        "            pass  # mutant: keep the last\n",
        (f"{T_TRAINING}::test_a_time_limit_keeps_the_best_parameters_seen",),
    ),
    Mutant(
        "expression-position",
        "expression errors report position 0 whatever the offending token",
        "solver/expressions.py",
        "        self.position = position\n",
        "        self.position = 0\n",
        ("tests/solver/test_expressions.py::test_errors_name_the_offending_token_and_where_it_starts",),
    ),
    Mutant(
        "monomial-error-inflated",
        "the promised monomial error is twice the truth",
        "models/constructions.py",
        "    return net, ErrorBound(factors[0].err, factors[0].slope_err)\n",
        "    return net, ErrorBound(2 * factors[0].err, 2 * factors[0].slope_err)\n",
        ("tests/models/test_constructions.py::test_monomials_within_their_product_rule_bounds",),
    ),
    Mutant(
        "polynomial-error-inflated",
        "the promised polynomial error is twice the truth",
        "models/constructions.py",
        "    return result, ErrorBound(value_err, slope_err)\n",
        "    return result, ErrorBound(2 * value_err, 2 * slope_err)\n",
        ("tests/models/test_constructions.py::test_univariate_polynomials",),
    ),
    Mutant(
        "fuzz-evaluate",
        "evaluate fails after the model is found (reached only with a real model id)",
        "service/api/evaluation.py",
        '    return ("{" + ", ".join(fields) + "}").encode()\n',
        '    raise RuntimeError("mutant")\n',
        ("tests/service/test_openapi_fuzz.py",),
    ),
    Mutant(
        "fuzz-loss",
        "the loss-curve route fails once the job is found (reached only with a real job id)",
        "service/api/routes/plots.py",
        '"records": [r.to_json() for r in records]}',
        '"records": [r.to_json() for r in records][1 / len(records) :]}',
        ("tests/service/test_openapi_fuzz.py",),
    ),
    Mutant(
        "fail-unfinished",
        "fail_unfinished records the reason but leaves the jobs queued or running",
        "service/jobs/store.py",
        '.values(status="failed", error=reason, finished_at=now())',
        ".values(error=reason, finished_at=now())",
        ("tests/service/test_store.py::test_fail_unfinished_fails_queued_and_running_jobs_only",),
    ),
    Mutant(
        "dask-gave-up",
        "a task Dask gave up on (KilledWorker after MAX_ATTEMPTS) is never failed",
        "service/jobs/dispatcher.py",
        'if future.status == "error":',
        "if False:",
        (f"{T_FAILURES}::test_a_task_dask_gave_up_on_fails_its_job_with_the_reason",),
    ),
    Mutant(
        "max-attempts",
        "a job may start once more than MAX_ATTEMPTS",
        "service/jobs/runner.py",
        "store.begin(job_id, worker_name(), MAX_ATTEMPTS)",
        "store.begin(job_id, worker_name(), MAX_ATTEMPTS + 1)",
        (f"{T_FAILURES}::test_a_job_started_max_attempts_times_fails_instead_of_running_again",),
    ),
    Mutant(
        "stale-never-requeued",
        "a silent external worker's job is not requeued after 60 s",
        "service/jobs/dispatcher.py",
        "stale_after_s: float = STALE_AFTER_S,",
        "stale_after_s: float = 6000.0,",
        (f"{T_FAILURES}::test_a_silent_external_worker_s_job_is_requeued_after_stale_after_s",),
    ),
    Mutant(
        "own-error-lost",
        "a job's own error ends it failed without saying why",
        "service/jobs/runner.py",
        'error=f"{type(exc).__name__}: {exc}"',
        "error=None",
        (f"{T_FAILURES}::test_a_model_that_cannot_be_written_fails_its_job_with_the_reason",),
    ),
    Mutant(
        "superseded-folder-kept",
        "a superseded attempt leaves the model folder it wrote",
        "service/jobs/runner.py",
        "shutil.rmtree(folder)",
        "pass",
        (f"{T_FAILURES}::test_a_superseded_attempt_removes_the_model_folder_it_wrote",),
    ),
    Mutant(
        "keyless-tenant",
        "keyless mode serves callers as another tenant than the documented one",
        "service/api/auth.py",
        "return DEFAULT_TENANT",
        'return "anonymous"',
        (f"{T_API}::test_keyless_mode_serves_every_caller_as_the_default_tenant",),
    ),
    Mutant(
        "jobs-metric-zero",
        "the jobs metric reports 0 for every status",
        "service/api/metrics.py",
        "family.add_metric([status], count)",
        "family.add_metric([status], 0)",
        (f"{T_API}::test_the_jobs_metric_counts_the_store_s_jobs_by_status",),
    ),
    Mutant(
        "paging-repeats",
        "the next page repeats the last job of the previous one",
        "service/jobs/store.py",
        "(JobRow.created_at == created) & (JobRow.id < last_id)",
        "(JobRow.created_at == created) & (JobRow.id <= last_id)",
        (f"{T_CLIENT}::test_iter_jobs_against_the_api_yields_every_job_once_newest_first",),
    ),
    Mutant(
        "iter-jobs-one-page",
        "client.iter_jobs stops after the first page",
        "service/client.py",
        "            page = self.jobs(status, page_size, token)\n            yield from page.jobs\n",
        "            page = self.jobs(status, page_size, token)\n"
        "            yield from page.jobs\n"
        "            return\n",
        (f"{T_CLIENT}::test_iter_jobs_against_the_api_yields_every_job_once_newest_first",),
    ),
    Mutant(
        "loss-records-dropped",
        "a worker reports no loss-curve records (the live test sees the run through them)",
        "service/jobs/runner.py",
        "records=[r for r in records if r.is_finite()],",
        "records=[],",
        ("tests/service/test_live.py::test_submit_progress_succeed_evaluate",),
    ),
    Mutant(
        "worker-no-checkpoint",
        "a worker trains without a checkpoint file: kill -9 restarts the job from step 0",
        "service/jobs/runner.py",
        "checkpoint=checkpoint,",
        "checkpoint=None,",
        ("tests/service/test_live.py::test_a_killed_worker_does_not_lose_the_job",),
    ),
    # -- well-posed specs, clear refusals (the newcomer's tool; the service hardening)
    Mutant(
        "no-initial-data-check",
        "a time-dependent problem without initial data is accepted",
        "solver/spec_checks.py",
        "    if has_time and uses_time_derivative and not has_initial:",
        "    if False:",
        (f"{T_SPEC}::test_a_problem_without_the_data_its_equation_needs_is_refused",),
    ),
    Mutant(
        "diffusion-not-checked",
        "a diffusion that is not positive definite is accepted",
        "solver/spec_checks.py",
        "    bad = torch.nonzero(~(smallest > 0))",
        "    bad = torch.nonzero(smallest < -1e300)",
        (f"{T_SPEC}::test_a_diffusion_that_is_not_positive_is_refused_at_a_point",),
    ),
    Mutant(
        "union-tags-in-paths",
        "error paths carry the problem kind (problem.divergence_form.source)",
        "solver/spec_errors.py",
        '        if previous == "problem" and part in UNION_TAGS["problem"]:',
        "        if False:",
        (f"{T_API}::test_bad_specs_are_422_with_one_message_per_mistake",),
    ),
    Mutant(
        "no-did-you-mean",
        "a typo gets no close-match suggestion",
        "solver/spec_errors.py",
        "    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)",
        "    close: list[str] = []",
        (f"{T_API}::test_bad_specs_are_422_with_one_message_per_mistake",),
    ),
    Mutant(
        "non-finite-expression-accepted",
        "an expression that is NaN on the domain (log(x) on [-1, 1]) passes validation",
        "solver/spec_checks.py",
        "    bad = torch.nonzero(~torch.isfinite(values))",
        "    bad = torch.nonzero(torch.isnan(values) & False)",
        (f"{T_SPEC}::test_an_expression_that_is_not_finite_at_a_sample_point_is_refused",),
    ),
    Mutant(
        "lax-types",
        "the spec coerces true and '100' to numbers",
        "solver/spec.py",
        "frozen=True, strict=True)",
        "frozen=True, strict=False)",
        (f"{T_SPEC}::test_types_are_strict_and_a_wrong_type_says_what_to_write",),
    ),
    Mutant(
        "extent-overflow-accepted",
        "a box of span 1e308 is accepted",
        "solver/spec.py",
        "            if not math.isfinite(hi - lo):",
        "            if False:",
        (f"{T_SPEC}::test_a_domain_whose_extent_overflows_is_refused",),
    ),
    Mutant(
        "tokenizer-lets-hex-through",
        "the expression tokenizer accepts hex literals, 1_000 and the like",
        "solver/expressions.py",
        "        if _PLAIN_NUMBER.fullmatch(number) is None:",
        "        if False:",
        (
            "tests/solver/test_expressions.py::test_what_pythons_tokenizer_accepts_but_the_language_does_not_is_refused",
        ),
    ),
    Mutant(
        "nan-trains-on",
        "training goes on past a non-finite loss",
        "solver/training.py",
        "                raise self._diverged(step, bad)",
        "                pass",
        (f"{T_TRAINING}::test_adam_stops_at_the_first_non_finite_residual_with_the_best_parameters",),
    ),
    Mutant(
        "delete-keeps-files",
        "DELETE leaves the model folders on disk",
        "service/api/deps.py",
        "            shutil.rmtree(folder, ignore_errors=True)",
        "            pass",
        ("tests/service/test_delete.py::test_deleting_a_job_removes_its_record_curve_checkpoint_and_models",),
    ),
    Mutant(
        "surrogate-breaks-envelope",
        "a lone surrogate in a name makes the error envelope fail (a 500)",
        "service/api/errors.py",
        '        return value.encode("utf-8", "backslashreplace").decode("utf-8")',
        "        return value",
        (
            "tests/service/test_hostile.py::test_a_lone_surrogate_in_the_name_is_refused_and_the_envelope_encodes",
        ),
    ),
    Mutant(
        "json-parsed-before-count",
        "an oversized JSON evaluate is parsed whole before its point count is checked",
        "service/api/evaluation.py",
        "    check_json_size(body, inputs)\n",
        "    pass\n",
        (
            "tests/service/test_hostile.py::test_json_points_over_the_count_are_refused_before_the_body_is_parsed",
        ),
    ),
    Mutant(
        "npz-as-npy-500",
        "an .npz sent as .npy reaches numpy as an array (a 500)",
        "service/api/evaluation.py",
        "    if not isinstance(array, np.ndarray):  # an .npz archive",
        "    if False:  # an .npz archive",
        ("tests/service/test_hostile.py::test_an_npz_sent_as_npy_is_refused_naming_the_format",),
    ),
    Mutant(
        "nul-ids-reach-the-store",
        "ids with control characters reach PostgreSQL (a 500)",
        "service/app.py",
        "dependencies=[Depends(plain_ids)],",
        "dependencies=[],",
        ("tests/service/test_hostile.py::test_ids_with_control_characters_are_404",),
    ),
    Mutant(
        "chunked-body-400",
        "an oversized chunked body answers 400, not 413",
        "service/api/limits.py",
        "class _BodyTooLargeError(HTTPException):",
        "class _BodyTooLargeError(Exception):",
        ("tests/service/test_hostile.py::test_an_oversized_chunked_job_body_is_413",),
    ),
    Mutant(
        "empty-idempotency-key",
        "an empty Idempotency-Key is stored as a key",
        "service/api/deps.py",
        "    if key is not None and not key.strip():",
        "    if False:",
        ("tests/service/test_hostile.py::test_an_empty_idempotency_key_is_refused",),
    ),
    Mutant(
        "diverged-model-dropped",
        "a diverged job keeps no model though a finite one existed",
        "service/jobs/runner.py",
        "            kept = _keep_best(exc, root, job.tenant, job_id)",
        "            kept = None",
        (f"{T_FAILURES}::test_a_job_whose_training_diverges_fails_saying_where_and_keeps_the_best_model",),
    ),
    Mutant(
        "progress-without-residuals",
        "a job's progress never shows the residual figures",
        "service/jobs/store.py",
        "residuals=json.dumps(latest)",
        "residuals=None",
        (f"{T_API}::test_progress_carries_residual_sup_and_mean_and_the_objective_apart",),
    ),
    Mutant(
        "quota-off-by-one",
        "a tenant may hold one active job more than the quota",
        "service/jobs/store.py",
        "if active >= max_active:",
        "if active > max_active:",
        ("tests/service/test_limits.py::test_submit_past_max_active_jobs_answers_429_with_retry_after",),
    ),
    Mutant(
        "storage-quota-ignored",
        "the model-storage budget is ten times what it says",
        "service/api/quotas.py",
        "if used > budget:",
        "if used > 10 * budget:",
        ("tests/service/test_limits.py::test_submit_past_the_model_storage_budget_answers_429",),
    ),
    Mutant(
        "time-limit-cap-ignored",
        "time_limit_s above the server cap is accepted",
        "service/api/quotas.py",
        "if limit_s > settings.max_time_limit_s:",
        "if limit_s > 10 * settings.max_time_limit_s:",
        ("tests/service/test_limits.py::test_time_limit_and_steps_above_the_caps_are_refused",),
    ),
    Mutant(
        "slow-client-keeps-connection",
        "a 408 for a stalled body leaves the connection open",
        "service/api/timeouts.py",
        '(b"connection", b"close"),',
        "",
        ("tests/service/test_limits.py::test_a_stalled_body_answers_408_and_closes_the_connection",),
    ),
    Mutant(
        "plot-cap-ignored",
        "plot work is capped at 100 times the setting",
        "service/api/routes/plots.py",
        "if work.total > settings.max_plot_work:",
        "if work.total > 100 * settings.max_plot_work:",
        ("tests/service/test_limits.py::test_a_plot_over_the_cap_is_refused_naming_a_smaller_resolution",),
    ),
    Mutant(
        "work-for-gone-clients",
        "evaluate and plots do their work for a client already gone",
        "service/api/disconnect.py",
        "        return None",
        "        pass",
        ("tests/service/test_limits.py::test_routes_do_no_heavy_work_for_a_disconnected_client",),
    ),
    Mutant(
        "resumed-logged-as-started",
        "a resumed attempt is logged as a fresh start",
        "service/jobs/store.py",
        'event = "started" if job.attempts == 1 else "resumed"',
        'event = "started"',
        ("tests/service/test_limits.py::test_every_job_transition_logs_one_line",),
    ),
    Mutant(
        "compose-missing",
        "no compose CLI on the machine: the compose check must fail, not skip",
        "tests/service/test_compose.py",
        '    if shutil.which("docker-compose"):\n',
        "    if False:  # mutant: as if not installed\n",
        ("tests/service/test_compose.py::test_docker_compose_config_accepts_the_file",),
    ),
    Mutant(
        "polygon-normal-sign",
        "a polygon's edge normals point inward",
        "solver/regions/polygon.py",
        "turned = torch.stack([direction[:, 1], -direction[:, 0]], 1) * self._orientation",
        "turned = torch.stack([direction[:, 1], -direction[:, 0]], 1) * -self._orientation",
        ("tests/solver/test_regions.py",),
    ),
    Mutant(
        "union-seam",
        "a union draws boundary points on the face two members share",
        "solver/regions/set_operations.py",
        "            keep &= ~self._claimed(x, normal, source, eps)\n",
        "            pass  # mutant: coincident faces counted twice\n",
        ("tests/solver/test_regions.py",),
    ),
    Mutant(
        "periodic-wave-kink",
        "a triangle wave's kink moved off the quarter period",
        "solver/periodic.py",
        "(0.5, ((0.25, -4.0), (0.75, 4.0))),",
        "(0.5, ((0.25, -4.0), (0.7, 4.0))),",
        ("tests/solver/test_periodic.py",),
    ),
    Mutant(
        "diffusion-ignores-u",
        "the flux residual reads K at u = 0, not at the network's u",
        "solver/kinds/divergence_form.py",
        '        env["u"] = u[:, 0]  # a diffusion K(t, x, u) may depend on the solution\n',
        '        env["u"] = 0 * u[:, 0]  # mutant\n',
        ("tests/solver/test_residuals.py",),
    ),
    Mutant(
        "offload-bypassed",
        "large JSON evaluates never use the evaluate pool",
        "service/api/routes/models.py",
        'elif form == "json" and len(body) > OFFLOAD_BYTES and pool.enabled:',
        "elif False:",
        ("tests/service/test_offload.py",),
    ),
)


def _tree_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _copy_tree(target: Path) -> None:
    for name in _tree_files():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)


def _apply(root: Path, mutant: Mutant) -> None:
    path = root / mutant.path
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.old)
    if count != 1:
        raise SystemExit(f"{mutant.name}: the text to break occurs {count} times in {mutant.path}, not once")
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def _environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(root),
        RELUPDE_REQUIRE_POSTGRES="1",
        RELUPDE_REQUIRE_BROWSER="1",
        RELUPDE_REQUIRE_COMPOSE="1",
    )
    return env


def _check_imports(root: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import models, solver, service; print(solver.__file__)"],
        cwd=root,
        env=_environment(root),
        capture_output=True,
        text=True,
        check=True,
    )
    if not Path(probe.stdout.strip()).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"the copy imports solver from {probe.stdout.strip()}, not from {root}")


def _run_tests(root: Path, tests: tuple[str, ...]) -> tuple[bool, float, str]:
    """(passed, seconds, last lines of output) for ``tests`` in the tree at ``root``."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-x", *tests],
        cwd=root,
        env=_environment(root),
        capture_output=True,
        text=True,
    )
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])
    return result.returncode == 0, time.perf_counter() - started, tail


def run(mutants: list[Mutant]) -> list[tuple[Mutant, str, float]]:
    outcomes: list[tuple[Mutant, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="relupde-mutants-") as scratch:
        clean = Path(scratch) / "clean"
        _copy_tree(clean)
        _check_imports(clean)
        for mutant in mutants:  # every breakage applies, before minutes are spent on any
            count = (clean / mutant.path).read_text(encoding="utf-8").count(mutant.old)
            if count != 1:
                raise SystemExit(f"{mutant.name}: the text to break occurs {count} times in {mutant.path}")
        baseline: set[tuple[str, ...]] = set()  # test sets seen passing on the unbroken copy
        for mutant in mutants:
            if mutant.tests not in baseline:
                passed, _, tail = _run_tests(clean, mutant.tests)
                if not passed:
                    raise SystemExit(f"{mutant.name}: its tests fail on the unbroken tree:\n{tail}")
                baseline.add(mutant.tests)
            broken = Path(scratch) / mutant.name
            shutil.copytree(clean, broken)
            _apply(broken, mutant)
            passed, seconds, tail = _run_tests(broken, mutant.tests)
            verdict = "survived" if passed else "killed"
            print(f"{mutant.name}: {verdict} ({seconds:.0f} s)", file=sys.stderr, flush=True)
            outcomes.append((mutant, verdict, seconds))
            shutil.rmtree(broken, ignore_errors=True)
    return outcomes


def table(outcomes: list[tuple[Mutant, str, float]]) -> str:
    lines = [
        "| mutant | breakage | file | killed by | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mutant, verdict, seconds in outcomes:
        tests = "<br>".join(f"`{t.split('::')[-1]}`" for t in mutant.tests)
        lines.append(
            f"| {mutant.name} | {mutant.what} | `{mutant.path}` | {tests} | {verdict} ({seconds:.0f} s) |"
        )
    killed = sum(verdict == "killed" for _, verdict, _ in outcomes)
    lines.append("")
    lines.append(f"{killed} of {len(outcomes)} mutants killed.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="run the mutants whose name contains this text")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or args.only in m.name]
    if args.list:
        for mutant in chosen:
            print(f"{mutant.name}: {mutant.what} ({mutant.path})")
        return 0
    if not chosen:
        raise SystemExit(f"no mutant's name contains {args.only!r}; see --list")
    outcomes = run(chosen)
    text = table(outcomes)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if all(verdict == "killed" for _, verdict, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
