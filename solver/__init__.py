"""PDE problems solved in process (docs/solver.md).

``JobSpec`` is the job spec, ``solve`` trains it here and returns a ``Model``, and
``load_model`` reads one back.  Imports models/, never service/.
"""

from solver.expressions import ExpressionError
from solver.model import Evaluation, Model, ModelFileError, load_model
from solver.solve import solve
from solver.spec import JobSpec
from solver.training import Canceled, Diverged

__all__ = [
    "Canceled",
    "Diverged",
    "Evaluation",
    "ExpressionError",
    "JobSpec",
    "Model",
    "ModelFileError",
    "load_model",
    "solve",
]
