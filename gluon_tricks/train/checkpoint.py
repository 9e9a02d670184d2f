"""Atomic checkpoints: each file is written beside its target and renamed over it only when complete,
so a crash mid-write leaves the previous good checkpoint as it was."""
import json
import os


def _atomic(path, write):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_checkpoint(directory, tag, net, trainer, meta):
    """Write ``<tag>.params``, ``<tag>.states`` and, last, ``<tag>.json`` (its presence marks completeness)."""
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, tag)
    _atomic(base + ".params", net.save_parameters)
    if trainer is not None:
        _atomic(base + ".states", trainer.save_states)

    def write_meta(path):
        with open(path, "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
    _atomic(base + ".json", write_meta)
    return base
