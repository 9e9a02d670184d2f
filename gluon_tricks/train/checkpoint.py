"""Checkpoints that are complete or absent, never half-written.

Each checkpoint is a directory ``checkpoints/iter-00001234/`` whose files are written first;
its ``meta.json`` (recipe, position, states, and the sha1 of every file) is written last; then
the one-line file ``checkpoints/latest`` is atomically replaced to name it. Only after that
are older directories removed (the newest ``keep`` stay). A crash at any moment leaves
``latest`` naming a complete checkpoint, and resuming verifies every file's sha1.

A run holds a lock on its directory while it trains (:func:`lock_run_dir`), and a full disk
stops it with the name of the checkpoint that is intact (:func:`stop_when_disk_full`).
"""
import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import time

from ..zoo.store import sha1_of
from ..errors import RUN_FAILED, BadInput, UserError, reason
from ..notice import notice


class CheckpointError(BadInput):
    """A checkpoint is missing, truncated or corrupt; the message names the file."""
    status = RUN_FAILED


class RunDirInUse(UserError):
    """Another live process trains into the same directory."""
    status = RUN_FAILED


class DiskFull(UserError):
    """The disk filled while a run wrote its files; the message names the intact checkpoint."""
    status = RUN_FAILED


# flock's answers where the file system cannot lock at all: NFS without lockd, some FUSE and SMB mounts.
NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


class RunDirLock:
    """The lock :func:`lock_run_dir` holds; ``close()`` clears the holder's name and lets go."""

    def __init__(self, file, locked):
        self.file, self.locked = file, locked

    def close(self):
        if self.file is None:
            return
        if self.locked:
            with contextlib.suppress(OSError):  # a name left behind only misleads the next reader
                self.file.seek(0)
                self.file.truncate()
        self.file.close()
        self.file = None


def lock_run_dir(run_dir):
    """An exclusive lock on ``run_dir``, held until ``close()``. Two runs on one directory would
    interleave their logs and overwrite each other's checkpoints, so the second refuses, naming
    the first. The kernel drops the lock when its holder exits or is killed, so a killed run
    never blocks ``--resume``. Only a live holder refuses: where the file system cannot lock
    (NO_LOCKS), the run goes on after one line saying so; on NFS mounted ``nolock`` the lock
    holds within one machine only."""
    try:
        os.makedirs(run_dir, exist_ok=True)
        f = open(os.path.join(run_dir, ".lock"), "a+")
    except OSError as err:
        raise BadInput("cannot write to the save dir %s (%s): give another --save-dir"
                       % (run_dir, err.strerror or err)) from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in NO_LOCKS:
            notice("%s: this file system cannot lock files (%s), so nothing stops a second run on this save dir"
                   % (run_dir, os.strerror(err.errno)))
            return RunDirLock(f, locked=False)
        if err.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
            f.close()
            raise
        f.seek(0)
        holder = f.read().strip() or "a process that has not written its name yet"
        f.close()
        raise RunDirInUse("%s is in use by another run (%s): wait for it to end, stop it, or give another "
                          "--save-dir" % (run_dir, holder)) from None
    f.seek(0)
    f.truncate()
    f.write("pid %d on %s, started %s" % (os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S")))
    f.flush()
    return RunDirLock(f, locked=True)


def _disk_full(err):
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    # MXNet's own writers (save_parameters, save_states) report a short write from C++.
    return type(err).__name__ == "MXNetError" and ("Write incomplete" in str(err) or "No space left" in str(err))


@contextlib.contextmanager
def stop_when_disk_full(run_dir):
    """A full disk while the body writes ``run_dir``'s files becomes one :class:`DiskFull` line that
    names the checkpoint ``--resume`` will continue from (writes are atomic, so it is whole)."""
    try:
        yield
    except Exception as err:
        if not _disk_full(err):
            raise
        checkpoints = Checkpoints(run_dir)
        try:
            found = checkpoints.latest()
        except CheckpointError as bad:
            intact = "and its checkpoint is unreadable: %s" % bad
        else:
            intact = ("no checkpoint was written yet" if found is None else
                      "checkpoint %s (epoch %d, batch %d) is intact: free space, then run again with --resume"
                      % (found[0], found[1]["state"]["epoch"], found[1]["state"]["batch"]))
        raise DiskFull("no space left on the disk holding %s (%s); %s" % (
            run_dir, reason(err, ("Write incomplete", "No space left")), intact)) from err


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
        try:
            files = {}
            for filename, write in writers.items():
                atomic_write(os.path.join(path, filename), write)
                files[filename] = sha1_of(os.path.join(path, filename))
            atomic_text(os.path.join(path, "meta.json"), json.dumps(dict(meta, files=files), indent=2, sort_keys=True))
        except BaseException:  # a half-written checkpoint goes at once (on a full disk, its space with it)
            shutil.rmtree(path, ignore_errors=True)
            raise
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
