"""Checkpoints that are complete or absent, never half-written.

Each checkpoint is a directory ``checkpoints/iter-00001234/`` whose files are written first;
its ``meta.json`` (recipe, position, states, and the sha1 of every file) is written last; then
the one-line file ``checkpoints/latest`` is atomically replaced to name it. Only after that
are older directories removed (the newest ``keep`` stay). A crash at any moment leaves
``latest`` naming a complete checkpoint, and resuming verifies every file's sha1.
"""
import json
import os
import shutil

from ..zoo.store import sha1_of


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated or corrupt; the message names the file."""


def atomic_write(path, write):
    """``write(tmp_path)`` then fsync and rename over ``path``."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_text(path, text):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)


class Checkpoints:
    """The checkpoints of one run directory."""

    def __init__(self, run_dir, keep=2):
        self.root = os.path.join(run_dir, "checkpoints")
        self.keep = keep

    @property
    def latest_file(self):
        return os.path.join(self.root, "latest")

    def save(self, iteration, writers, meta):
        """``writers``: {file name: fn(path)}; returns the checkpoint directory."""
        name = "iter-%08d" % iteration
        path = os.path.join(self.root, name)
        if os.path.isdir(path):  # a leftover of a run killed while writing this same checkpoint
            shutil.rmtree(path)
        os.makedirs(path)
        files = {}
        for filename, write in writers.items():
            atomic_write(os.path.join(path, filename), write)
            files[filename] = sha1_of(os.path.join(path, filename))
        atomic_text(os.path.join(path, "meta.json"), json.dumps(dict(meta, files=files), indent=2, sort_keys=True))
        atomic_text(self.latest_file, name + "\n")
        self._prune(name)
        return path

    def _prune(self, newest):
        names = sorted(n for n in os.listdir(self.root) if n.startswith("iter-") and n <= newest)
        for old in names[:-self.keep]:
            shutil.rmtree(os.path.join(self.root, old), ignore_errors=True)

    def latest(self):
        """(directory, meta) of the newest complete checkpoint, verified; None when there is none."""
        if not os.path.isfile(self.latest_file):
            return None
        with open(self.latest_file) as f:
            name = f.read().strip()
        path = os.path.join(self.root, name)
        meta_path = os.path.join(path, "meta.json")
        try:
            with open(meta_path) as f:
                meta = json.load(f)
        except (OSError, ValueError) as err:
            raise CheckpointError("checkpoint %s is unreadable (%s); %s" % (meta_path, err, self._others(name))) from None
        for filename, digest in meta.get("files", {}).items():
            file_path = os.path.join(path, filename)
            if not os.path.isfile(file_path):
                raise CheckpointError("checkpoint file %s is missing; %s" % (file_path, self._others(name)))
            if sha1_of(file_path) != digest:
                raise CheckpointError("checkpoint file %s is corrupt or truncated (sha1 differs from meta.json); %s"
                                      % (file_path, self._others(name)))
        return path, meta

    def _others(self, bad):
        others = sorted(n for n in os.listdir(self.root) if n.startswith("iter-") and n != bad)
        if not others:
            return "no other checkpoint exists"
        return "an older one is %s (write its name into %s to resume from it)" % (
            os.path.join(self.root, others[-1]), self.latest_file)
