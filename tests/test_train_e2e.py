"""End to end on real data: the baseline recipe learns Fashion-MNIST, and the script behaves."""
import os
import subprocess
import sys

import mxnet as mx
import pytest

from conftest import needs_data, train_cifar

from gluon_tricks import get_model
from gluon_tricks.train import Recipe, evaluate, fit
from gluon_tricks.train.checkpoint import Checkpoints
from gluon_tricks.data import build_loaders
from gluon_tricks.train.report import read_log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@needs_data
@pytest.mark.slow
def test_baseline_recipe_learns_fashion_mnist(tmp_path):
    recipe = Recipe(model="cifar_resnet20_v1b", epochs=4, batch_size=64, train_samples=4000, test_samples=1000,
                    lr=0.1, warmup_epochs=1, save_dir=str(tmp_path / "run"), log_interval=10)
    summary = fit(recipe, progress=False)
    epochs = [r for r in read_log(summary["log"]) if r["kind"] == "epoch"]
    assert len(epochs) == 4
    assert epochs[-1]["train_loss"] < 0.8 * epochs[0]["train_loss"]
    assert epochs[-1]["test_acc"] > epochs[0]["test_acc"]
    assert summary["final_test_acc"] > 0.75  # 10 classes: chance is 0.10

    # What the run leaves behind is usable: the checkpoint reproduces the logged accuracy.
    run = tmp_path / "run"
    assert (run / "curves.png").stat().st_size > 10_000
    path, meta = Checkpoints(str(run)).latest()
    assert meta["state"]["epoch"] == 4 and meta["state"]["batch"] == 0 and meta["recipe"]["epochs"] == 4
    net = get_model("cifar_resnet20_v1b", classes=10)
    net.load_parameters(os.path.join(path, "model.params"))
    _, test_loader, _ = build_loaders(recipe)
    acc, _ = evaluate(net, test_loader, mx.cpu())
    assert acc == pytest.approx(summary["final_test_acc"], abs=1e-6)
    kinds = [r["kind"] for r in read_log(summary["log"])]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("interval") >= 4

    # TensorBoard reads the same numbers from the event file beside the log.
    tensorboard = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = tensorboard.EventAccumulator(str(run))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("epoch/test_acc")] == \
        [(r["epoch"] + 1, pytest.approx(r["test_acc"], rel=1e-6)) for r in epochs]
    intervals = [r for r in read_log(summary["log"]) if r["kind"] == "interval"]
    assert [(e.step, e.value) for e in events.Scalars("interval/loss")] == \
        [(r["iter"], pytest.approx(r["loss"], rel=1e-6)) for r in intervals]
    assert {"interval/lr", "epoch/train_acc", "epoch/img_per_s", "epoch/epoch_time"} <= set(events.Tags()["scalars"])


@needs_data
def test_progressive_resizing_trains_at_each_stages_size_and_evaluates_at_full_size(tmp_path):
    recipe = Recipe(model="cifar_resnet9", model_kwargs={"channels": [8, 16, 16, 32]}, epochs=3, batch_size=128,
                    train_samples=2048, test_samples=500, lr=0.2, warmup_epochs=1, train_sizes=(16, 20, 28),
                    save_dir=str(tmp_path / "run"))
    summary = fit(recipe, progress=False)
    epochs = [r for r in read_log(summary["log"]) if r["kind"] == "epoch"]
    assert [r["train_size"] for r in epochs] == [16, 20, 28]
    walls = [r["wall_time"] for r in epochs]  # seconds since the process started, evaluation included
    assert walls == sorted(walls) and walls[0] > epochs[0]["train_time"]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert summary["final_test_acc"] > 0.5  # evaluated on 28 px images by a net trained mostly on smaller ones


@needs_data
@pytest.mark.slow
def test_train_cifar_script_runs_and_appends_to_its_log(tmp_path):
    args = ["--epochs", "1", "--warmup-epochs", "0.2", "--train-samples", "512", "--test-samples", "256", "--batch-size", "64",
            "--save-dir", str(tmp_path), "--no-progress", "--mode", "imperative"]
    first = train_cifar(*args)
    assert first.returncode == 0, first.stderr
    assert "epoch 1/1" in first.stdout and "final top-1 accuracy" in first.stdout
    assert train_cifar(*args, "--no-tensorboard").returncode == 0
    starts = [r for r in read_log(str(tmp_path / "log.jsonl")) if r["kind"] == "start"]
    assert len(starts) == 2  # appended, not overwritten
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1  # the first run's; the second was told not to
    assert starts[0]["recipe"]["hybridize"] is False


@pytest.mark.parametrize("args,message", [
    (["--model", "resnet50_v1x"], "did you mean: resnet50_v1"),
    (["--data-dir", "/nonexistent/fmnist"], "not in /nonexistent/fmnist"),
    (["--epochs", "0"], "epochs must be positive"),
    (["--label-smoothing", "1.5"], "label_smoothing must be in [0, 1)"),
    (["--epochs", "1"], "warmup_epochs (1) must be in [0, epochs=1); for a short run pass"),
    (["--dataset", "mnist"], "invalid choice"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--dtype", "float16"], "needs a GPU"),
    (["--gpus", "0"], "sees none"),
    (["--gpus", "a,b"], "comma-separated GPU ids"),
    (["--kv-store", "nccl"], "GPUs only"),
    (["--kv-store", "dist_sync"], "start the job with scripts/launch.py"),
    (["--kv-store", "dist_async"], "optimizer state cannot be checkpointed"),
    (["--teacher", "resnet50_v9"], "unknown model 'resnet50_v9'"),
    (["--mixup-alpha", "-1"], "alpha must be >= 0"),
    (["--optimizer", "adamz"], "unknown optimizer 'adamz'"),
    (["--model-kwargs", "[1]"], "expected a JSON object"),
])
def test_bad_input_stops_before_any_work_with_one_line(args, message, tmp_path):
    result = train_cifar(*args, "--save-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_help_explains_every_flag():
    result = train_cifar("--help")
    assert result.returncode == 0
    for flag in ("--model", "--lr", "--warmup-epochs", "--label-smoothing", "--no-wd", "--mode", "--data-dir"):
        assert flag in result.stdout


@pytest.mark.parametrize("missing,says", [
    ("mxnet", ["gluon_tricks[cpu]", "gluon_tricks[cu112]", "overrides.txt"]),
    ("distutils", ["imports distutils", "pip install setuptools"]),  # Python 3.12+ without setuptools
])
def test_import_without_mxnet_or_distutils_says_what_to_install(missing, says, tmp_path):
    """A stand-in `mxnet` whose import fails as it does on a machine without the module."""
    (tmp_path / "mxnet").mkdir()
    (tmp_path / "mxnet" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named '%s'\", name=%r)\n" % (missing, missing))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    result = subprocess.run([sys.executable, "-c", "import gluon_tricks"], capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert all(text in result.stderr for text in says), result.stderr
    assert result.stderr.count("Traceback") == 1  # one short chain, not MXNet's internals


@needs_data
def test_mxnets_info_lines_stay_out_of_the_scripts_output(tmp_path):
    # A ResNet-D's average-pooling downsample makes MXNet 1.9.1 print an INFO line from C++.
    args = ["--model", "cifar_resnet20_v1d", "--epochs", "1", "--warmup-epochs", "0", "--train-samples", "128",
            "--test-samples", "64", "--batch-size", "64", "--no-progress"]
    quiet = train_cifar(*args, "--save-dir", tmp_path / "a")
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "prop_kind" not in quiet.stderr and "final top-1 accuracy" in quiet.stdout
    debug = train_cifar(*args, "--save-dir", tmp_path / "b", env=dict(os.environ, GLUON_TRICKS_DEBUG="1"))
    assert debug.returncode == 0 and "prop_kind is forward_scoring" in debug.stderr  # there to hold back


def test_the_stderr_filter_drops_only_mxnets_known_info_lines():
    code = r'''
import os, sys
from gluon_tricks.cli import quiet_mxnet
with quiet_mxnet():
    os.write(2, b"[23:11:23] ../src/operator/nn/mkldnn/mkldnn_pooling.cc:58: MKLDNN Pooling: training with prop_kind is forward_scoring\n")
    os.write(2, b"[23:15:28] src/operator/x.cc:1: Check failed: a real problem\n")
    sys.stderr.write("\rprogress 50%")
    os.write(2, b"[22:52:11] ../src/io/iter_image_recordio_2.cc:177: ImageRecordIOParser2: a.rec, use 1 threads for decoding..\n")
    sys.stderr.write("\rprogress 100%\n")
sys.stderr.write("after\n")
'''
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    # The ImageRecordIter line came right after an unfinished progress-bar line: cut out alone.
    assert run.stderr == (b"[23:15:28] src/operator/x.cc:1: Check failed: a real problem\n"
                          b"\rprogress 50%\rprogress 100%\nafter\n")
