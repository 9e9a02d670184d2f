"""gluon_tricks: the "Bag of Tricks for Image Classification" recipes on MXNet Gluon."""

__version__ = "0.1.0"

import os as _os
import sys as _sys

# Left unset, MXNet 1.9.1 reserves a core for its engine and runs operators on the rest: one
# thread on a 2-core machine (measured here: 250 vs 414 img/s for cifar_resnet20). It reads the
# variable once, at import, so it must be set before mxnet is first imported.
_FIRST = "mxnet" not in _sys.modules
if _FIRST:
    _os.environ.setdefault("OMP_NUM_THREADS", str(len(_os.sched_getaffinity(0)) if hasattr(_os, "sched_getaffinity") else _os.cpu_count()))

try:
    import mxnet as _mx  # noqa: F401
except ImportError as _err:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "gluon_tricks needs MXNet 1.9.1, which is not installed.\n"
        "  CPU:            pip install 'gluon_tricks[cpu]'   (or: pip install mxnet==1.9.1 'numpy<1.24')\n"
        "  GPU, CUDA 11.2: pip install 'gluon_tricks[cu112]' (or: pip install mxnet-cu112==1.9.1 'numpy<1.24')\n"
        "(original error: %s)" % _err
    ) from None
except AttributeError as _err:  # pragma: no cover - numpy >= 1.24 removed aliases MXNet 1.9.1 uses
    import numpy as _np
    raise ImportError(
        "MXNet 1.9.1 does not work with numpy %s (it needs numpy<1.24): "
        "pip install 'numpy<1.24'  (original error: %s)" % (_np.__version__, _err)
    ) from None

from .machine import enable_amx as _enable_amx  # noqa: E402

if _FIRST:  # an MXNet imported earlier may have run an operator, which fixes oneDNN's ISA for good
    _enable_amx()

from .zoo import get_model, list_models  # noqa: E402,F401
