"""Run a training command as a distributed dist_sync job through MXNet's own launcher
(``mxnet/tools/launch.py`` + ``dmlc_tracker``): ``gt-launch`` or ``python scripts/launch.py``.

All options are MXNet's launcher options (-n workers, -s servers, --launcher
local|ssh|mpi|sge|yarn, -H hostfile, ...); the command to run follows them. --launcher defaults
to local here (MXNet's default is ssh): every process runs on this machine over loopback.
Verified with the local launcher on one CPU machine only.

example:
  gt-launch -n 2 -s 1 --launcher local \\
      gt-train-cifar --kv-store dist_sync --batch-size 64 --save-dir runs/dist

Three things in the shipped launcher need help on today's Python and on one machine:

* ``dmlc_tracker`` calls ``Thread.isAlive``, removed in Python 3.9: the launcher crashes right
  after starting the scheduler, leaving it running forever.
* ``--launcher local`` advertises the machine's outward address as the scheduler's while every
  process can reach it on loopback; we pin it, and the processes' interface, to 127.0.0.1.
* when one worker fails, the scheduler, servers and other workers wait for it forever; we stop
  the whole process group and exit with the worker's code.

Everything else (roles, ps-lite, the kvstore) is MXNet's.
"""
import os
import runpy
import signal
import sys
import threading


def mxnet_launcher():
    import mxnet
    return os.path.join(os.path.dirname(mxnet.__file__), "tools", "launch.py")


FLAGS_WITHOUT_VALUE = {"--p3"}  # every other option of MXNet's launch.py takes a value


def _option(argv, name):
    """The value of the launcher option ``name`` in ``argv`` (the part before the command), or None."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return argv[i + 1] if i + 1 < len(argv) else None
        i += 1 if arg in FLAGS_WITHOUT_VALUE or "=" in arg else 2
    return None


_failed = []


def _stop_all(code):
    """From a launcher thread: SIGTERM the whole group; our own handler (main thread) exits with ``code``."""
    _failed.append(code)
    os.killpg(0, signal.SIGTERM)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.split("\nThree things")[0])
        if not argv:
            return 2
    import dmlc_tracker.local
    import dmlc_tracker.tracker

    if not hasattr(threading.Thread, "isAlive"):
        threading.Thread.isAlive = threading.Thread.is_alive
    if _option(argv, "--launcher") is None:
        argv = ["--launcher", "local"] + argv  # MXNet's default is ssh; one machine is the common start
    if _option(argv, "--launcher") == "local":
        dmlc_tracker.tracker.get_host_ip = lambda host_ip=None: "127.0.0.1"
        os.environ.setdefault("DMLC_INTERFACE", "lo")
        os.environ.setdefault("DMLC_NODE_HOST", "127.0.0.1")

    run_one = dmlc_tracker.local.exec_cmd

    def run_or_stop_all(cmd, num_attempt, role, taskid, pass_env):
        try:
            run_one(cmd, num_attempt, role, taskid, pass_env)
        except (RuntimeError, SystemExit) as err:
            sys.stderr.write("launch: %s %d failed (%s); stopping the job\n" % (role, taskid, str(err).split(" on ")[0]))
            _stop_all(1)

    dmlc_tracker.local.exec_cmd = run_or_stop_all
    if os.getpid() != os.getpgrp():
        os.setpgrp()  # our own group, so stopping it never reaches the shell that started us
    signal.signal(signal.SIGTERM, lambda *_: os._exit(_failed[0] if _failed else 128 + signal.SIGTERM))
    sys.argv = [mxnet_launcher()] + argv
    runpy.run_path(sys.argv[0], run_name="__main__")


def horovodrun(argv=None):
    """``gt-horovodrun``: Horovod's ``horovodrun`` with the same options, started after the numpy names
    MXNet 1.9.1 reads are put back. horovodrun checks that Horovod's MXNet extension was built by
    importing it (and MXNet with it) in a forked child; on numpy 1.24 and later that import fails
    and horovodrun says "Gloo support has not been built"."""
    import gluon_tricks  # noqa: F401  (restores the names, in this process and so in its forks)
    try:
        from horovod.runner.launch import run_commandline
    except ImportError:
        sys.stderr.write("gt-horovodrun: Horovod is not installed; build it with scripts/install_horovod.sh\n")
        return 2
    sys.argv = ["horovodrun"] + list(sys.argv[1:] if argv is None else argv)
    return run_commandline()
