#!/bin/sh
# Build Horovod 0.28.1 against the MXNet already installed (PyPI has no Horovod wheels).
#
#   sh scripts/install_horovod.sh          # CPU: Gloo only (what CI builds and tests)
#   GPU=1 sh scripts/install_horovod.sh    # GPU: NCCL allreduce as well (needs CUDA + NCCL; not run here)
#
# Why these settings: Horovod's build imports mxnet, so it cannot build in pip's isolated
# environment (--no-build-isolation); its bundled Gloo asks for CMake < 3.5 behaviour, which
# CMake 4 refuses unless CMAKE_POLICY_VERSION_MINIMUM is set (so we take CMake 3 from PyPI);
# MPI, TensorFlow and PyTorch support are left out; on numpy 1.24 and later, every Python the build
# starts restores the numpy names MXNet reads (a sitecustomize that loads gluon_tricks/numpy_names.py),
# as `import gluon_tricks` does at run time. Takes 2-4 minutes on 2 cores; needs g++.
set -eu
NAMES=$(python -c "import gluon_tricks.numpy_names as m; print(m.__file__)") || {
    echo "install gluon_tricks with MXNet first, as the README says (.[cpu] or .[cu112])" >&2; exit 1; }
SITE=$(mktemp -d)
trap 'rm -rf "$SITE"' EXIT
cat > "$SITE/sitecustomize.py" <<EOF
import importlib.util
spec = importlib.util.spec_from_file_location("numpy_names", "$NAMES")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.restore()
EOF
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
pip install "cmake>=3.13,<4" wheel
export HOROVOD_WITH_MXNET=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 HOROVOD_WITHOUT_TENSORFLOW=1 \
       HOROVOD_WITHOUT_PYTORCH=1 CMAKE_POLICY_VERSION_MINIMUM=3.5
if [ "${GPU:-0}" = 1 ]; then
    export HOROVOD_GPU_OPERATIONS=NCCL
fi
pip install --no-build-isolation --no-cache-dir horovod==0.28.1
python -c "import gluon_tricks, horovod, horovod.mxnet as hvd; print('horovod', horovod.__version__, 'for MXNet: gloo', hvd.gloo_built(), 'nccl', hvd.nccl_built())"
