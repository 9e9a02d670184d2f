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

from .numpy_names import restore as _restore_numpy_names  # noqa: E402

_restore_numpy_names()  # before MXNet or GluonCV first reads numpy

try:
    import mxnet as _mx  # noqa: F401
except ImportError as _err:  # pragma: no cover - exercised in a subprocess test
    if _err.name == "distutils":  # gone from the standard library since Python 3.12
        raise ImportError("MXNet 1.9.1 imports distutils, which this Python provides only through "
                          "setuptools: pip install setuptools") from None
    if _err.name != "mxnet":
        raise
    raise ImportError(
        "gluon_tricks needs MXNet 1.9.1, which is not installed. Install gluon_tricks with an extra that brings it,\n"
        "as the README's set-up does (uv, because MXNet declares numpy<2 and overrides.txt lifts that):\n"
        "  CPU:            pip install uv && python -m uv pip install --override overrides.txt 'gluon_tricks[cpu]'\n"
        "  GPU, CUDA 11.2: pip install uv && python -m uv pip install --override overrides.txt 'gluon_tricks[cu112]'\n"
        "(original error: %s)" % _err
    ) from None

from .numpy_names import restore_recordio as _restore_recordio  # noqa: E402

_restore_recordio(_mx.recordio)

from .machine import enable_amx as _enable_amx  # noqa: E402

if _FIRST:  # an MXNet imported earlier may have run an operator, which fixes oneDNN's ISA for good
    _enable_amx()

from .zoo import get_model, list_models  # noqa: E402,F401
