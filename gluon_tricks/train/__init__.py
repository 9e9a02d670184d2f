"""The training engine: recipe, schedule, losses, checkpoint, reporting, and the fit() loop."""
from .config import Recipe  # noqa: F401
from .loop import TrainingDiverged, evaluate, fit  # noqa: F401
from .schedule import Schedule  # noqa: F401
