"""A trained model: evaluation, errors against ``exact``, and safe persistence.

On disk a model is a folder with ``weights.safetensors`` (A1, b1, ..., AL, bL in float64,
already in physical coordinates) and ``manifest.json`` (format version, the job spec, the
architecture, metrics, errors, estimate, library versions and the sha256 of the weights).
It is written under a temporary name and renamed into place; on load the hash and every
shape are checked, and a tampered or truncated file is refused with ``ModelFileError``.
Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from models import ReLUNetwork
from solver.aposteriori import ErrorBound
from solver.estimate import GlobalEstimate, pointwise_bounds
from solver.regions import Region, region_of
from solver.spec import BallDomain, BoxDomain, JobSpec, System, WholeSpaceDomain

FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
MANIFEST = "manifest.json"
VERSION = "0.1.0"
EVALUATE_CHUNK = 4096


class ModelFileError(ValueError):
    """A model folder that cannot be trusted or read; the message says what is wrong."""


@dataclass(frozen=True)
class Evaluation:
    """value (n,), gradient (n, inputs) (a system: value (n, m), gradient (n, m, inputs), the m
    unknowns in the spec's order); bound and gradient_bound (n,) or None (no pointwise
    bound); inside (n,): the point lies in the domain and time slab (whole space: in the
    slab, since the global model is defined on all of R^d)."""

    value: NDArray[np.float64]
    gradient: NDArray[np.float64]
    bound: NDArray[np.float64] | None
    gradient_bound: NDArray[np.float64] | None
    inside: NDArray[np.bool_]


class Model:
    """A solved job: the network in physical coordinates (float64) and what is known of it."""

    def __init__(
        self,
        network: ReLUNetwork,
        spec: JobSpec,
        metrics: dict[str, Any],
        errors: dict[str, Any] | None,
        estimate: dict[str, Any] | None = None,
    ) -> None:
        self.network = network.to(torch.float64)
        self.spec = spec
        self.metrics = metrics
        self.errors = errors
        self.estimate = estimate
        self._shape: Region | None = None  # the domain's region, built at first use

    @property
    def estimate(self) -> dict[str, Any] | None:
        """The a-posteriori estimate's JSON (docs/error-estimates.md), or None."""
        return self._estimate

    @estimate.setter
    def estimate(self, value: dict[str, Any] | None) -> None:
        # parsed once here, not on every evaluate call (a quarter of a small call's cost)
        self._estimate = value
        self._bounds = [] if value is None else [ErrorBound.from_json(b) for b in value.get("bounds", [])]
        self._global = None if value is None or "eps_value" not in value else GlobalEstimate.from_json(value)

    @property
    def n_inputs(self) -> int:
        return self.network.in_features

    @property
    def input_names(self) -> list[str]:
        """The coordinates of a point, in order: t first when the problem has time."""
        problem = self.spec.problem
        return (["t"] if problem.time else []) + [f"x{i}" for i in range(problem.dimension)]

    @property
    def unknowns(self) -> list[str] | None:
        """A system's unknowns, in the order of evaluate's value columns; None for a scalar kind
        (one unknown u: value (n,), gradient (n, inputs))."""
        problem = self.spec.problem
        return list(problem.unknowns) if isinstance(problem, System) else None

    @property
    def architecture(self) -> dict[str, Any]:
        net = self.network
        return {
            "widths": list(net.widths),
            "activation": net.act.name,
            "negative_slope": net.negative_slope,
            "relu_prime_at_zero": net.act.c,
            "inputs": self.input_names,
            "value_output": 0,
        }

    def evaluate(self, points: NDArray[Any] | list[list[float]]) -> Evaluation:
        """u and grad u (with respect to every input, t first) at points of shape (n, inputs)."""
        array = np.asarray(points, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.n_inputs:
            raise ValueError(
                f"points must have shape (n, {self.n_inputs}) ({', '.join(self.input_names)}), "
                f"got {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError("points must be finite numbers (no NaN or infinity)")
        x = torch.from_numpy(array)
        values, gradients = [], []
        unknowns = self.unknowns
        pick: int | slice = 0 if unknowns is None else slice(0, len(unknowns))
        with torch.no_grad():  # in chunks: bounded memory, and faster than one huge batch
            for chunk in torch.split(x, EVALUATE_CHUNK):
                u, jac = self.network.value_and_jacobian(chunk)
                values.append(u[:, pick])
                gradients.append(jac[:, pick, :])
        shape = () if unknowns is None else (len(unknowns),)
        value = torch.cat(values).numpy() if values else np.zeros((0, *shape))
        gradient = torch.cat(gradients).numpy() if gradients else np.zeros((0, *shape, self.n_inputs))
        bound = gradient_bound = None
        if self._global is not None:
            bound, gradient_bound = pointwise_bounds(self._global, array)
            return Evaluation(value, gradient, bound, gradient_bound, self._in_slab(array))
        covered = self._covered(array)
        if self._estimate is not None:
            bound, gradient_bound = self._constant_bounds(covered)
        whole = isinstance(self.spec.problem.domain, WholeSpaceDomain)
        return Evaluation(value, gradient, bound, gradient_bound, self._in_slab(array) if whole else covered)

    @property
    def bounds(self) -> list[ErrorBound]:
        """The a-posteriori error bounds of the estimate (docs/error-estimates.md), or []."""
        return list(self._bounds)

    @property
    def global_estimate(self) -> GlobalEstimate | None:
        """The whole-space global estimate (docs/global-estimate.md), or None."""
        return self._global

    def _constant_bounds(
        self, inside: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float64] | None, NDArray[np.float64] | None]:
        """A certified or statistical sup bound holds at every point of the domain (x slab),
        ``inside`` (``_covered``): that constant there, +inf (no promise) elsewhere; None
        where there is no such bound."""
        found: list[NDArray[np.float64] | None] = []
        for quantity in ("max_abs_error", "max_gradient_error"):
            values = [b.value for b in self._bounds if b.quantity == quantity and b.kind != "indicator"]
            found.append(None if not values else np.where(inside, min(values), np.inf))
        return found[0], found[1]

    def inside(self, array: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether each point lies in the closed domain and time slab; on the whole space every
        point of the slab (the global model is defined on all of R^d)."""
        if isinstance(self.spec.problem.domain, WholeSpaceDomain):
            return self._in_slab(array)
        return self._covered(array)

    def _in_slab(self, array: NDArray[np.float64]) -> NDArray[np.bool_]:
        time = self.spec.problem.time
        if time is None:
            return np.ones(array.shape[0], dtype=bool)
        inside: NDArray[np.bool_] = (array[:, 0] >= time.start) & (array[:, 0] <= time.end)
        return inside

    def _covered(self, array: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Points where a sup bound of ``bounds`` holds: the closed domain (whole space: the
        asked-for box [-R, R]^d) and the time slab."""
        problem = self.spec.problem
        ok = np.ones(array.shape[0], dtype=bool)
        x = array
        if problem.time is not None:
            t = array[:, 0]
            ok &= (t >= problem.time.start) & (t <= problem.time.end)
            x = array[:, 1:]
        domain = problem.domain
        if isinstance(domain, BoxDomain):
            ok &= ((x >= np.asarray(domain.box.lower)) & (x <= np.asarray(domain.box.upper))).all(1)
        elif isinstance(domain, BallDomain):
            ok &= np.linalg.norm(x - np.asarray(domain.ball.center), axis=1) <= domain.ball.radius
        elif isinstance(domain, WholeSpaceDomain):
            radius = domain.whole_space.train_radius
            ok &= (np.abs(x) <= radius).all(1)
        else:  # a polygon or a set operation
            ok &= self.region().contains(torch.from_numpy(np.ascontiguousarray(x))).numpy()
        return ok

    def region(self) -> Region:
        """The region of the problem's domain (solver.regions), built once per model."""
        if self._shape is None:
            self._shape = region_of(self.spec.problem.domain, self.spec.problem.dimension)
        return self._shape

    # ------------------------------------------------------------------ persistence
    def manifest(self, weights_sha256: str) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "spec": self.spec.model_dump(mode="json"),
            "architecture": self.architecture,
            "metrics": self.metrics,
            "errors": self.errors,
            "estimate": self.estimate,
            "versions": {"relupde": VERSION, "torch": torch.__version__, "python": platform.python_version()},
            "weights_sha256": weights_sha256,
            "created_at": datetime.now(UTC).isoformat(),
        }

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the model folder atomically (temporary folder, then rename)."""
        target = Path(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for index, (a, b) in enumerate(self.network.layers, start=1):
            tensors[f"A{index}"] = a.detach().to(torch.float64).contiguous()
            tensors[f"b{index}"] = b.detach().to(torch.float64).contiguous()
        blob = save_safetensors(
            tensors, metadata={"format": "relupde", "format_version": str(FORMAT_VERSION)}
        )
        digest = hashlib.sha256(blob).hexdigest()
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            (tmp / WEIGHTS).write_bytes(blob)
            (tmp / MANIFEST).write_text(json.dumps(self.manifest(digest), indent=2, allow_nan=False))
            if target.exists():
                old = target.with_name(f".{target.name}.old")
                if old.exists():
                    shutil.rmtree(old)
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def load_model(folder: str | os.PathLike[str]) -> Model:
    """Load and verify a model folder written by ``Model.save``."""
    path = Path(folder)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        blob = (path / WEIGHTS).read_bytes()
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path} is not a model folder: {exc.filename} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path / MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path / MANIFEST}: unknown format (expected format_version {FORMAT_VERSION})")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != manifest.get("weights_sha256"):
        raise ModelFileError(
            f"{path / WEIGHTS} does not match the sha256 in the manifest: the file was changed or truncated"
        )
    try:
        tensors = load_safetensors(blob)
        spec = JobSpec.model_validate(manifest["spec"])
        arch = manifest["architecture"]
        widths = [int(w) for w in arch["widths"]]
        layers = []
        for index in range(1, len(widths)):
            a, b = tensors[f"A{index}"], tensors[f"b{index}"]
            if tuple(a.shape) != (widths[index], widths[index - 1]) or tuple(b.shape) != (widths[index],):
                raise ModelFileError(f"layer {index} has shape {tuple(a.shape)}, manifest says {widths}")
            layers.append((a, b))
        network = ReLUNetwork(layers, arch["activation"], arch["negative_slope"], arch["relu_prime_at_zero"])
    except ModelFileError:
        raise
    except Exception as exc:  # malformed content of a file whose hash matched its own manifest
        raise ModelFileError(
            f"{path}: the model files are inconsistent ({type(exc).__name__}: {exc})"
        ) from None
    return Model(network, spec, manifest.get("metrics", {}), manifest.get("errors"), manifest.get("estimate"))
