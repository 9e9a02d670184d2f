"""gluon_tricks: the "Bag of Tricks for Image Classification" recipes on MXNet Gluon."""

__version__ = "0.1.0"

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

from .models import get_model, list_models  # noqa: E402,F401
