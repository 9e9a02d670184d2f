"""Devices and gradient reduction: a list of contexts, batches split across them, a kvstore."""
import os

import mxnet as mx

KVSTORES = ("device", "local", "nccl", "dist_sync", "dist_device_sync", "dist_async", "horovod")


class DeviceError(ValueError):
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


def kvstore(name):
    """(kvstore or its name, this worker's rank, number of workers); only dist_* creates one now,
    since creating it joins the launched job. Horovod joins its job here too (a process not
    started by horovodrun is a job of one)."""
    if name == "horovod":
        import horovod.mxnet as hvd
        hvd.init()
        return name, hvd.rank(), hvd.size()
    if not name.startswith("dist"):
        return name, 0, 1
    kv = mx.kv.create(name)
    return kv, kv.rank, kv.num_workers


def worker_contexts(ctxs, name):
    """The devices of this worker. A Horovod worker drives one device: the GPU at its local rank
    in ``--gpus`` (list every GPU of the machine and start one worker per GPU), or the CPU."""
    if name != "horovod":
        return ctxs
    import horovod.mxnet as hvd
    if ctxs[0].device_type != "gpu":
        if len(ctxs) > 1:
            raise DeviceError("a Horovod worker drives one device; start one worker per device instead of %d "
                              "contexts in one" % len(ctxs))
        return ctxs
    if hvd.local_size() > len(ctxs):
        raise DeviceError("%d Horovod workers on this machine but --gpus names %d GPU(s): start one worker per GPU"
                          % (hvd.local_size(), len(ctxs)))
    return [ctxs[hvd.local_rank()]]


def split(batch, ctxs):
    """Split a batch along axis 0 across the contexts (sizes may differ by one)."""
    if len(ctxs) == 1:
        return [batch.as_in_context(ctxs[0])]
    return mx.gluon.utils.split_and_load(batch, ctxs, even_split=False)
