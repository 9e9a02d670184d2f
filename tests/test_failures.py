"""What a user sees when something goes wrong: one line for what they can fix (a bad value, a
second run on the same directory, a full disk), a traceback for a bug, and nothing lost."""
import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import TRAIN_CIFAR, needs_data, train_cifar

from gluon_tricks.cli import main_guard
from gluon_tricks.errors import BadInput, InputNotFound, UserError
from gluon_tricks.train.checkpoint import (Checkpoints, DiskFull, RunDirInUse, atomic_write, lock_run_dir,
                                           stop_when_disk_full)
from gluon_tricks.train.report import JsonLog, read_log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_RUN = ["--epochs", "2", "--warmup-epochs", "0", "--train-samples", "256", "--test-samples", "128",
             "--batch-size", "64", "--no-progress"]


class Parser:
    prog = "gt-test"

    def exit(self, status, message):
        raise SystemExit((status, message))


def test_a_user_error_ends_in_one_line_and_a_bug_keeps_its_traceback():
    def bad_value():
        raise BadInput("--lr must be positive\nsecond line")
    with pytest.raises(SystemExit) as stop:
        main_guard(Parser(), bad_value)
    assert stop.value.code == (2, "gt-test: error: --lr must be positive\n")

    def bug():
        {}["missing"]
    with pytest.raises(KeyError):  # not turned into a user error
        main_guard(Parser(), bug)

    def builtin_value_error():  # raised by our code or a library without a message for the user: a bug
        int("x")
    with pytest.raises(ValueError):
        main_guard(Parser(), builtin_value_error)


def test_the_user_error_types_are_the_builtins_library_callers_catch():
    assert issubclass(BadInput, ValueError) and issubclass(InputNotFound, FileNotFoundError)
    assert issubclass(DiskFull, UserError) and issubclass(RunDirInUse, UserError)


@needs_data
def test_a_bug_deep_in_training_shows_its_traceback(tmp_path):
    code = textwrap.dedent("""
        import sys
        import gluon_tricks.train.loop as loop
        def broken(*args):
            raise ValueError("a bug inside the loop")
        loop.build_network = broken
        from gluon_tricks.cli.train_cifar import main
        main(sys.argv[1:])
    """)
    result = subprocess.run([sys.executable, "-c", code, *SMALL_RUN, "--save-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "in broken" in result.stderr
    assert "ValueError: a bug inside the loop" in result.stderr


def test_a_bad_recipe_file_is_one_line(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("epochs: [1,\n")
    for path, message in ((bad, "is not valid YAML"), (tmp_path / "none.yaml", "does not exist")):
        result = train_cifar("--recipe", str(path), "--save-dir", str(tmp_path / "run"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@needs_data
def test_a_second_run_on_the_same_save_dir_refuses_naming_the_first(tmp_path):
    held = lock_run_dir(str(tmp_path))
    try:
        result = train_cifar(*SMALL_RUN, "--save-dir", str(tmp_path))
    finally:
        held.close()
    assert result.returncode == 3, result.stderr[-2000:]  # the run cannot go on here: not a usage error
    assert "is in use by another run (pid %d on" % os.getpid() in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "log.jsonl").exists() and not (tmp_path / "checkpoints").exists()


def test_a_killed_runs_lock_goes_with_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from gluon_tricks.train.checkpoint import lock_run_dir\n"
                               "lock = lock_run_dir(sys.argv[1]); print('held', flush=True); time.sleep(600)",
                               str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirInUse, match="pid %d" % holder.pid):
            lock_run_dir(str(tmp_path))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock_run_dir(str(tmp_path)).close()  # free again, as --resume needs


def test_the_holders_name_is_cleared_when_the_run_lets_go(tmp_path):
    lock_run_dir(str(tmp_path)).close()
    assert (tmp_path / ".lock").read_text() == ""  # no dead process named to the next reader


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS])
def test_a_file_system_that_cannot_lock_lets_the_run_go_on_with_one_line(code, tmp_path, monkeypatch, capsys):
    from gluon_tricks.train import checkpoint

    def no_locks(f, how):  # what flock answers on NFS without lockd, or on some FUSE and SMB mounts
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(checkpoint.fcntl, "flock", no_locks)
    lock = lock_run_dir(str(tmp_path))
    err = capsys.readouterr().err
    assert "cannot lock files (%s)" % os.strerror(code) in err and err.count("\n") == 1
    lock_run_dir(str(tmp_path)).close()  # a second one too: nothing can tell them apart
    lock.close()


def test_any_other_lock_failure_keeps_its_traceback(tmp_path, monkeypatch):
    from gluon_tricks.train import checkpoint

    def broken(f, how):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(checkpoint.fcntl, "flock", broken)
    with pytest.raises(OSError) as err:
        lock_run_dir(str(tmp_path))
    assert err.value.errno == errno.EIO and not isinstance(err.value, UserError)


def _read_only_mount_works():
    return shutil.which("unshare") and subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o ro none /mnt"],
        capture_output=True).returncode == 0


@needs_data
@pytest.mark.skipif(not _read_only_mount_works(), reason="needs a private mount namespace (unshare -m, as root) "
                    "to make a read-only directory, since root ignores file modes")
def test_a_read_only_save_dir_is_one_line(tmp_path):
    """The directory is a read-only tmpfs mounted in a mount namespace of the run's own."""
    script = "mount -t tmpfs -o ro none \"$1\" && shift && exec \"$@\""
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(tmp_path),
                             sys.executable, TRAIN_CIFAR, *SMALL_RUN, "--save-dir", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "cannot write to the save dir %s (Read-only file system)" % (tmp_path / "run") in result.stderr
    assert "Traceback" not in result.stderr


def test_a_full_disk_while_logging_leaves_no_half_line(tmp_path, monkeypatch):
    log = JsonLog(str(tmp_path / "log.jsonl"))
    log.write({"kind": "start"})
    real_write = os.write

    def short_write(fd, data):  # what a disk with a few bytes left does
        return real_write(fd, data[:5])
    monkeypatch.setattr(os, "write", short_write)
    with pytest.raises(OSError) as err:
        log.write({"kind": "epoch", "epoch": 0})
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert read_log(log.path) == [{"kind": "start"}]


def test_a_full_disk_names_the_intact_checkpoint(tmp_path):
    checkpoints = Checkpoints(str(tmp_path))
    checkpoints.save(10, {"model.params": lambda p: open(p, "w").write("w")},
                     {"state": {"epoch": 1, "batch": 0}})

    def no_space(path):
        raise OSError(errno.ENOSPC, "No space left on device", path)
    with pytest.raises(DiskFull) as err:
        with stop_when_disk_full(str(tmp_path)):
            checkpoints.save(20, {"model.params": no_space}, {"state": {"epoch": 2, "batch": 0}})
    message = str(err.value)
    assert "no space left on the disk holding %s" % tmp_path in message
    assert "checkpoints/iter-00000010 (epoch 1, batch 0) is intact" in message and "--resume" in message
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["iter-00000010", "latest"]  # the half one is gone
    with pytest.raises(DiskFull, match="no checkpoint was written yet"):
        with stop_when_disk_full(str(tmp_path / "fresh")):
            atomic_write(str(tmp_path / "x"), no_space)
    with pytest.raises(KeyError):  # anything else passes through untouched
        with stop_when_disk_full(str(tmp_path)):
            raise KeyError("bug")


def _can_mount_tmpfs():
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /tmp"],
                           capture_output=True)
    return probe.returncode == 0


@needs_data
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs a mount namespace (unshare -Urm) for a small tmpfs")
def test_a_run_on_a_disk_that_fills_stops_in_one_line_and_resumes_after_space_is_freed(tmp_path):
    """A real 4 MB tmpfs: the first epoch's checkpoint (weights, momentum) and best.params fit, the
    second epoch's writes do not. After the tmpfs grows, --resume finishes the run."""
    (tmp_path / "out").mkdir()
    args = " ".join(SMALL_RUN + ["--model", "cifar_resnet20_v1b", "--save-dir", str(tmp_path / "disk" / "run")])
    script = textwrap.dedent("""
        set -u
        mkdir -p {d}/disk && mount -t tmpfs -o size=4m tmpfs {d}/disk || exit 99
        {py} scripts/train_cifar.py {args} > {d}/out/first.out 2> {d}/out/first.err; echo $? > {d}/out/first.rc
        cp -r {d}/disk/run {d}/out/snapshot
        mount -o remount,size=64m {d}/disk
        {py} scripts/train_cifar.py {args} --resume > {d}/out/second.out 2> {d}/out/second.err
        echo $? > {d}/out/second.rc
    """).format(d=tmp_path, py=sys.executable, args=args)
    subprocess.run(["unshare", "-Urm", "sh", "-c", script], cwd=ROOT, timeout=900, check=True)
    out = tmp_path / "out"
    first_err = (out / "first.err").read_text()
    assert (out / "first.rc").read_text().strip() == "3", first_err[-3000:]  # the disk, not a usage error
    assert "Traceback" not in first_err
    error_lines = [line for line in first_err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "no space left on the disk holding" in error_lines[0]
    assert "(epoch 1, batch 0) is intact: free space, then run again with --resume" in error_lines[0]
    snapshot = Checkpoints(str(out / "snapshot"))
    path, meta = snapshot.latest()  # sha1-verified: the named checkpoint is whole
    assert os.path.basename(path) in error_lines[0] and meta["state"]["epoch"] == 1
    records = read_log(str(out / "snapshot" / "log.jsonl"))  # every line parses
    assert records[0]["kind"] == "start" and any(r["kind"] == "epoch" for r in records)
    assert (out / "second.rc").read_text().strip() == "0", (out / "second.err").read_text()[-3000:]
    assert "final top-1 accuracy" in (out / "second.out").read_text()


def _interrupt(tmp_path, after, *args):
    """Start a training run, wait for a line of its output that starts with ``after``, press Ctrl-C."""
    # A shell starts background jobs with SIGINT ignored, and Python then leaves it ignored: give the run
    # the terminal's default, as in a user's foreground process.
    run = subprocess.Popen([sys.executable, TRAIN_CIFAR, *args, "--save-dir", str(tmp_path), "--no-progress"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in run.stdout:
            if line.startswith(after):
                run.send_signal(signal.SIGINT)
                break
        out, err = run.communicate(timeout=300)
    finally:
        run.kill()
    return run.returncode, err


@needs_data
def test_ctrl_c_says_whether_a_checkpoint_exists(tmp_path):
    longer = ["--epochs", "30", "--warmup-epochs", "0", "--train-samples", "512", "--test-samples", "128",
              "--batch-size", "64", "--mode", "imperative"]
    code, err = _interrupt(tmp_path / "early", "training ", *longer)  # before the first epoch ends
    assert code == 130 and "Traceback" not in err, err[-2000:]
    assert "interrupted before the first checkpoint: none exists yet" in err
    code, err = _interrupt(tmp_path / "later", "epoch 2/30", *longer)  # the first epoch's checkpoint is on disk
    assert code == 130 and "Traceback" not in err, err[-2000:]
    assert "interrupted; the checkpoint %s" % (tmp_path / "later" / "checkpoints" / "iter-") in err
    assert "is intact: --resume continues from it" in err


SCRIPTS = os.path.join(ROOT, "scripts")


@pytest.mark.parametrize("script,args,says", [
    ("train_cifar.py", ["--model", "resnet50_v1x"], "did you mean"),
    ("train_imagenet.py", ["--model", "resnet50_v1x", "--rec-train", "x.rec", "--rec-val", "y.rec", "--use-rec"],
     "did you mean"),
    ("evaluate.py", ["--run", "/nonexistent/run"], "/nonexistent/run"),
    ("classify.py", ["--run", "/nonexistent/run", "/nonexistent/a.jpg"], "/nonexistent"),
    ("export.py", ["--run", "/nonexistent/run", "--output", "out/m"], "/nonexistent/run"),
    ("benchmark.py", ["--model", "resnet50_v1x"], "did you mean"),
    ("ablate.py", ["--base", "/nonexistent/base.yaml"], "/nonexistent/base.yaml"),
    ("pack.py", ["/nonexistent/images", "out/x"], "/nonexistent/images"),
    ("zoo.py", ["download", "resnet50_v1x"], "resnet50_v1x"),
])
def test_each_script_ends_a_usage_error_with_status_2_in_one_line(script, args, says, tmp_path):
    result = subprocess.run([sys.executable, os.path.join(SCRIPTS, script), *args], capture_output=True, text=True,
                            cwd=str(tmp_path), timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert says in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if "error:" in line]) == 1


@needs_data
def test_a_diverged_run_ends_with_status_3(tmp_path):
    result = train_cifar("--epochs", "2", "--warmup-epochs", "0", "--train-samples", "512", "--test-samples", "128",
                         "--batch-size", "64", "--lr", "1e30", "--log-interval", "2", "--no-progress",
                         "--save-dir", str(tmp_path))
    assert result.returncode == 3, result.stderr[-2000:]
    assert "training loss is nan" in result.stderr.lower() and "lower --lr" in result.stderr
    assert "Traceback" not in result.stderr
