"""Training: the recipe, its parts (schedule, losses, mixing, precision and reduction policies,
the step, evaluation, hooks, checkpoints, reports) and ``fit()``, which composes them."""
from .config import Recipe  # noqa: F401
from .evaluation import accuracy_report, evaluate  # noqa: F401
from .hooks import Hook, ParamStats, TrainingDiverged  # noqa: F401
from .loop import fit  # noqa: F401
from .parallel import Reduction  # noqa: F401
from .precision import Precision  # noqa: F401
from .schedule import Schedule  # noqa: F401
