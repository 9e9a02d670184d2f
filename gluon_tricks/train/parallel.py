"""Devices and gradient reduction: a list of contexts, batches split across them, a kvstore."""
import os

import mxnet as mx
from mxnet import gluon
from ..errors import BadInput

KVSTORES = ("device", "local", "nccl", "dist_sync", "dist_device_sync", "dist_async", "horovod")


class DeviceError(BadInput):
    """The requested devices or kvstore are not available here."""


def parse_gpus(spec):
    """'0,1,3' -> [0, 1, 3]; '' or None -> []."""
    if not spec:
        return []
    try:
        ids = [int(part) for part in str(spec).split(",") if part.strip() != ""]
    except ValueError:
        raise DeviceError("--gpus takes comma-separated GPU ids like 0,1,2,3; got %r" % (spec,)) from None
    if any(i < 0 for i in ids) or len(set(ids)) != len(ids):
        raise DeviceError("--gpus ids must be distinct and >= 0; got %r" % (spec,))
    return ids


def contexts(gpus=None, num_gpus=0):
    """GPU contexts for ``--gpus 0,1`` (or the first ``num_gpus``), else ``[mx.cpu()]``."""
    ids = parse_gpus(gpus) if gpus else list(range(num_gpus))
    if not ids:
        return [mx.cpu()]
    try:
        available = mx.context.num_gpus()
    except mx.base.MXNetError:
        available = 0
    if available == 0:
        raise DeviceError("GPUs %s were asked for, but this MXNet build sees none (the CPU wheel `mxnet` "
                          "has no CUDA: install gluon_tricks[cu112] on a CUDA 11.2 machine)" % ids)
    missing = [i for i in ids if i >= available]
    if missing:
        raise DeviceError("GPU ids %s do not exist; this machine has %d GPU(s)" % (missing, available))
    return [mx.gpu(i) for i in ids]


def check_kvstore(name, ctxs):
    """Reject kvstores that cannot work with these devices or this launch, before any work."""
    if name not in KVSTORES:
        raise DeviceError("unknown kvstore %r; choose from %s" % (name, ", ".join(KVSTORES)))
    if name == "nccl" and any(c.device_type != "gpu" for c in ctxs):
        raise DeviceError("--kv-store nccl reduces on GPUs only; use device or local on CPU")
    if name == "dist_async":
        # Updates then happen on the servers: no optimizer state to checkpoint, no exact resume.
        raise DeviceError("--kv-store dist_async is refused: its updates run on the parameter servers, so optimizer "
                          "state cannot be checkpointed and no two runs agree; use dist_sync")
    if name == "horovod":
        try:
            import horovod.mxnet  # noqa: F401
        except ImportError as err:
            raise DeviceError("--kv-store horovod needs Horovod built against MXNet (%s): run "
                              "sh scripts/install_horovod.sh (CPU/Gloo; see docs/training.rst for GPUs)" % err) from None
    if name.startswith("dist") and os.environ.get("DMLC_ROLE") != "worker":
        raise DeviceError("--kv-store %s needs a scheduler and servers: start the job with scripts/launch.py, e.g. "
                          "python scripts/launch.py -n 2 -s 1 python scripts/train_cifar.py --kv-store %s ..."
                          % (name, name))


class Reduction:
    """How the gradients of this worker's devices and of the other workers become one update:
    which kvstore (or Horovod) adds them up, over how many workers, and this worker's rank.

    A kvstore *sums* the workers' gradients; Horovod's trainer *averages* them. ``grad_sum_over``
    says how many workers' gradients the trainer adds up, so the step can normalise by the
    global batch either way. Updates always run on the workers (never on parameter servers), so
    optimizer state is checkpointable and loss scaling sees the reduced gradients."""

    def __init__(self, name="device", store=None, rank=0, workers=1):
        self.name, self.store, self.rank, self.workers = name, store if store is not None else name, rank, workers

    @classmethod
    def join(cls, name):
        """Join the job ``name`` describes. Only dist_* creates its kvstore here (creating it joins
        the launched job); Horovod joins its job (a process not started by horovodrun is a job of one)."""
        if name == "horovod":
            import horovod.mxnet as hvd
            hvd.init()
            return cls(name, name, hvd.rank(), hvd.size())
        if not name.startswith("dist"):
            return cls(name)
        kv = mx.kv.create(name)
        return cls(name, kv, kv.rank, kv.num_workers)

    @property
    def horovod(self):
        return self.name == "horovod"

    @property
    def grad_sum_over(self):
        """Workers whose gradients the trainer adds up: all of them for a kvstore, 1 for Horovod."""
        return 1 if self.horovod else self.workers

    def devices(self, ctxs):
        """The devices of this worker. A Horovod worker drives one device: the GPU at its local
        rank in ``--gpus`` (list every GPU of the machine and start one worker per GPU), or the CPU."""
        if not self.horovod:
            return ctxs
        import horovod.mxnet as hvd
        if ctxs[0].device_type != "gpu":
            if len(ctxs) > 1:
                raise DeviceError("a Horovod worker drives one device; start one worker per device instead of %d "
                                  "contexts in one" % len(ctxs))
            return ctxs
        if hvd.local_size() > len(ctxs):
            raise DeviceError("%d Horovod workers on this machine but --gpus names %d GPU(s): start one worker per "
                              "GPU" % (hvd.local_size(), len(ctxs)))
        return [ctxs[hvd.local_rank()]]

    def trainer(self, params, optimizer, optimizer_params, reduce_by_hand=False):
        """The Gluon trainer that reduces and applies gradients. ``reduce_by_hand``: the step calls
        ``allreduce_grads`` and ``update`` itself (loss scaling, gradient accumulation)."""
        if self.horovod:
            # Rank 0's weights, BN statistics included, go to every worker before the first step.
            import horovod.mxnet as hvd
            hvd.broadcast_parameters(params, root_rank=0)
            return hvd.DistributedTrainer(params, optimizer, optimizer_params)
        distributed = not isinstance(self.store, str)
        trainer = gluon.Trainer(params, optimizer, optimizer_params, kvstore=self.store,
                                update_on_kvstore=False if reduce_by_hand or distributed else None)
        if distributed:
            # Broadcast rank 0's weights and wait until every pull has landed. Gluon otherwise does it
            # lazily inside the first step and pushes gradients under the same keys right away: the
            # server can take that push before the weights' pull, and a worker then starts from
            # gradient values instead of weights (MXNet 1.9.1; found here, tests/test_distributed.py).
            trainer._init_kvstore()
            trainer._init_params()
            mx.nd.waitall()
        return trainer


def split(batch, ctxs):
    """Split a batch along axis 0 across the contexts (sizes may differ by one)."""
    if len(ctxs) == 1:
        return [batch.as_in_context(ctxs[0])]
    return mx.gluon.utils.split_and_load(batch, ctxs, even_split=False)
