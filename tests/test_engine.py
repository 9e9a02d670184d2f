"""The training engine: devices, accumulation, precision, checkpoints and exact resume, tricks end to end."""
import json
import os
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest

from conftest import PLAIN_MXNET, TRAIN_CIFAR, needs_data, train_cifar

from gluon_tricks.train import Recipe, fit
from gluon_tricks.train.checkpoint import CheckpointError, Checkpoints
from gluon_tricks.machine import BF16_CPU_FLAGS, cpu_flags
from gluon_tricks.train.report import read_log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_BF16 = bool(cpu_flags() & set(BF16_CPU_FLAGS))

# Small and quick: 640 real images, 10 steps per epoch at batch 64.
QUICK = dict(model="cifar_resnet20_v1b", train_samples=640, test_samples=256, batch_size=64, epochs=2,
             warmup_epochs=0.5, log_interval=5)


def _params(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(path).items()}


def _final_params(run_dir):
    latest = Checkpoints(str(run_dir)).latest()
    return _params(os.path.join(latest[0], "model.params"))


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


# ----------------------------------------------------------------------------- checkpoints

def test_checkpoints_are_verified_and_pruned(tmp_path):
    ck = Checkpoints(str(tmp_path), keep=2)
    assert ck.latest() is None

    def writer(text):
        def write(path):
            with open(path, "w") as f:
                f.write(text)
        return write
    for it in (10, 20, 30):
        ck.save(it, {"model.params": writer("weights %d" % it)}, {"state": {"iteration": it}})
    assert sorted(os.listdir(ck.root)) == ["iter-00000020", "iter-00000030", "latest"]
    path, meta = ck.latest()
    assert path.endswith("iter-00000030") and meta["state"]["iteration"] == 30
    with open(os.path.join(path, "model.params"), "r+") as f:  # truncate: a torn write
        f.truncate(3)
    with pytest.raises(CheckpointError, match="model.params is corrupt or truncated.*iter-00000020"):
        ck.latest()
    os.remove(os.path.join(path, "meta.json"))
    with pytest.raises(CheckpointError, match="unreadable"):
        ck.latest()


# ----------------------------------------------------------------------------- equivalences

GLOBAL_BN = {"norm_kwargs": {"use_global_stats": True}}  # per-device BN statistics legitimately differ


@needs_data
def test_two_contexts_equal_one_context_with_the_whole_batch(tmp_path):
    common = dict(QUICK, epochs=1, pad_crop=0, flip=False, model_kwargs=GLOBAL_BN, log_interval=100, lr=0.01,
                  init="xavier")
    fit(Recipe(**common, save_dir=str(tmp_path / "one")), progress=False, contexts=[mx.cpu(0)])
    fit(Recipe(**common, save_dir=str(tmp_path / "two")), progress=False, contexts=[mx.cpu(0), mx.cpu(1)])
    assert _max_diff(_final_params(tmp_path / "one"), _final_params(tmp_path / "two")) < 1e-4


@needs_data
def test_accumulating_two_half_batches_equals_one_full_batch(tmp_path):
    common = dict(QUICK, epochs=1, pad_crop=0, flip=False, model_kwargs=GLOBAL_BN, log_interval=100, lr=0.01,
                  init="xavier")
    fit(Recipe(**common, save_dir=str(tmp_path / "full")), progress=False)
    fit(Recipe(**dict(common, batch_size=32, accumulate=2), save_dir=str(tmp_path / "acc")), progress=False)
    assert _max_diff(_final_params(tmp_path / "full"), _final_params(tmp_path / "acc")) < 1e-4


# ----------------------------------------------------------------------------- resume

def _train_args(save_dir, *extra):
    args = ["--model", "cifar_resnet20_v1b", "--train-samples", "640", "--test-samples", "256",
            "--batch-size", "64", "--epochs", "3", "--warmup-epochs", "0.5", "--log-interval", "2",
            "--checkpoint-interval", "3", "--save-dir", str(save_dir), "--no-progress", *extra]
    return args


# Bit-exactness needs MXNet itself to be deterministic, which on CPU takes three settings:
# multithreaded kernels reduce in a varying order (two plain runs differ in the last bits), and
# the oneDNN path carries state across iterations that no parameter or optimizer file holds (a
# plain Gluon loop resumed in a new process drifts by 1e-3 within 4 steps; with oneDNN off, 0).
DETERMINISTIC = dict(os.environ, OMP_NUM_THREADS="1", MXNET_CPU_WORKER_NTHREADS="1", MXNET_MKLDNN_ENABLED="0",
                     MXNET_STORAGE_FALLBACK_LOG_VERBOSE="0")


SMALL_NET = ("--model", "cifar_resnet9", "--model-kwargs", '{"channels": [8, 16, 16, 32]}')  # 2.7M multiply-adds


@needs_data
@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_result(tmp_path):
    straight = train_cifar(*_train_args(tmp_path / "straight", *SMALL_NET), env=DETERMINISTIC)
    assert straight.returncode == 0, straight.stderr

    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, TRAIN_CIFAR, *_train_args(killed_dir, *SMALL_NET)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=DETERMINISTIC)
    latest = killed_dir / "checkpoints" / "latest"
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for a mid-epoch checkpoint in epoch 2 (iterations 12 or 15)
        if latest.exists() and int(latest.read_text().strip().split("-")[1]) >= 12:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stopped_at = int(latest.read_text().strip().split("-")[1])
    assert stopped_at < 30, "the run finished before it could be killed"

    resumed = train_cifar(*_train_args(killed_dir, *SMALL_NET, "--resume"), env=DETERMINISTIC)
    assert resumed.returncode == 0, resumed.stderr
    records = read_log(str(killed_dir / "log.jsonl"))
    assert [r["kind"] for r in records if r["kind"] in ("start", "resume")] == ["start", "resume"]
    assert next(r for r in records if r["kind"] == "resume")["state"]["iteration"] == stopped_at
    # Same data, same optimizer state, same schedule position: the same weights, bit for bit.
    assert _max_diff(_final_params(tmp_path / "straight"), _final_params(killed_dir)) == 0.0


@needs_data
def test_resume_refuses_a_changed_recipe(tmp_path):
    first = train_cifar(*_train_args(tmp_path, "--epochs", "1"))
    assert first.returncode == 0, first.stderr
    changed = train_cifar(*_train_args(tmp_path, "--epochs", "1", "--resume", "--lr", "0.5"))
    assert changed.returncode == 2 and "these fields differ: lr" in changed.stderr


# ----------------------------------------------------------------------------- precision

def test_multi_precision_update_on_float16_weights_matches_float32():
    """NAG with fp32 master weights: fp16 weights after N steps equal the fp32 run rounded to fp16."""
    rng = np.random.RandomState(0)
    w0 = rng.normal(size=(64,)).astype(np.float16).astype(np.float32)  # representable in both
    grads = [(rng.normal(size=(64,)) * 1e-3).astype(np.float16).astype(np.float32) for _ in range(20)]
    ref_opt = mx.optimizer.create("nag", learning_rate=0.1, momentum=0.9, wd=1e-4)
    mp_opt = mx.optimizer.create("nag", learning_rate=0.1, momentum=0.9, wd=1e-4, multi_precision=True)
    w32, w16 = mx.nd.array(w0), mx.nd.array(w0, dtype="float16")
    s32, s16 = ref_opt.create_state(0, w32), mp_opt.create_state_multi_precision(0, w16)
    for g in grads:
        ref_opt.update(0, w32, mx.nd.array(g), s32)
        mp_opt.update_multi_precision(0, w16, mx.nd.array(g).astype("float16"), s16)
    assert w16.dtype == np.float16
    master = s16[1].asnumpy()  # (momentum, float32 master copy): the update works on the master
    np.testing.assert_allclose(master, w32.asnumpy(), rtol=0, atol=1e-6)  # same fp32 arithmetic
    np.testing.assert_allclose(w16.asnumpy().astype(np.float32), w32.asnumpy(), rtol=1e-3, atol=1e-3)
    # Without master weights, 1e-4-sized steps vanish in fp16 rounding for weights near 1:
    naive = mx.nd.array(w0, dtype="float16")
    opt = mx.optimizer.create("sgd", learning_rate=0.1)
    for g in grads:
        opt.update(0, naive, mx.nd.array(g, dtype="float16"), None)
    assert np.abs(naive.asnumpy().astype(np.float32) - w32.asnumpy()).max() > \
        np.abs(w16.asnumpy().astype(np.float32) - w32.asnumpy()).max()


@needs_data
@pytest.mark.skipif(not HAS_BF16, reason="this CPU has neither avx512_bf16 nor AMX; MXNet's oneDNN refuses bf16 here")
def test_bfloat16_training_loss_falls(tmp_path):
    """In a subprocess: AMP patches MXNet for the whole process."""
    code = ("from gluon_tricks.train import Recipe, fit\n"
            "s = fit(Recipe(model='cifar_resnet20_v1b', train_samples=1280, test_samples=256, batch_size=64, epochs=3,"
            " warmup_epochs=0.5, log_interval=5, dtype='bfloat16', model_kwargs={'fused_bn_relu': True},"
            " save_dir=%r), progress=False)\n"
            "print('ACC', s['final_test_acc'])\n" % str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-2000:]
    from gluon_tricks.train.precision import bf16_gemm_ratio
    slower = bf16_gemm_ratio() < 1  # measured on this machine (cached): the run must have said so
    assert ("trains faster here" in result.stderr) == slower, result.stderr[-500:]
    epochs = [r for r in read_log(str(tmp_path / "log.jsonl")) if r["kind"] == "epoch"]
    assert epochs[-1]["train_loss"] < 0.85 * epochs[0]["train_loss"]
    assert epochs[-1]["test_acc"] > 0.6
    # the fused BN + ReLU asked for was trained apart (test_fused_bn_relu_loses_gradients_under_bf16), and said so
    assert "fused_bn_relu off" in result.stderr
    assert Recipe.load(str(tmp_path / "recipe.json")).model_kwargs == {"fused_bn_relu": False}


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has neither avx512_bf16 nor AMX; MXNet's oneDNN refuses bf16 here")
def test_fused_bn_relu_loses_gradients_under_bf16():
    """MXNet 1.9.1's bug that ``unfused_under_bf16`` works around, in plain MXNet: if this fails, MXNet no
    longer drops them and bf16 runs may keep the fused layer."""
    code = (PLAIN_MXNET + "import sys, mxnet as mx\n"
            "from mxnet.contrib import amp\n"
            "from mxnet.gluon import nn\n"
            "if sys.argv[1] == 'bfloat16': amp.init(target_dtype='bfloat16')\n"
            "bn = nn.BatchNormReLU()\n"
            "net = nn.HybridSequential()\n"
            "net.add(nn.Conv2D(16, 3, padding=1, use_bias=False), bn, nn.Conv2D(32, 3, padding=1), nn.Dense(10))\n"
            "net.initialize()\n"
            "net.hybridize()\n"
            "x = mx.nd.random.normal(shape=(8, 1, 12, 12))\n"
            "with mx.autograd.record():\n"
            "    y = net(x).sum()\n"
            "y.backward()\n"
            "print('ZERO', int((bn.gamma.grad().asnumpy() == 0).sum()))\n")
    zeros = {}
    for dtype in ("float32", "bfloat16"):
        result = subprocess.run([sys.executable, "-c", code, dtype], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        zeros[dtype] = int(result.stdout.split("ZERO")[-1])
    assert zeros == {"float32": 0, "bfloat16": 14}


@needs_data
def test_dtype_auto_trains_in_the_dtype_it_names_and_saves_it(tmp_path, capsys):
    from gluon_tricks.train.precision import choose_dtype
    expected, why = choose_dtype([mx.cpu()])
    if expected == "bfloat16":  # AMP would patch this process for good: train in a child
        code = ("from gluon_tricks.train import Recipe, fit\n"
                "fit(Recipe(**%r, dtype='auto', save_dir=%r), progress=False)\n" % (dict(QUICK, epochs=1), str(tmp_path)))
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                                env=dict(os.environ, PYTHONPATH=ROOT))
        assert result.returncode == 0, result.stderr[-2000:]
        said = result.stderr
    else:
        fit(Recipe(**dict(QUICK, epochs=1), dtype="auto", save_dir=str(tmp_path)), progress=False)
        said = capsys.readouterr().err
    assert "--dtype auto: %s (%s)" % (expected, why) in said
    assert Recipe.load(str(tmp_path / "recipe.json")).dtype == expected  # a resume trains in what ran


# ----------------------------------------------------------------------------- tricks end to end

@needs_data
def test_airbench_tricks_train_and_the_run_ends_on_the_lookahead_average(tmp_path):
    recipe = Recipe(**dict(QUICK, model="cifar_resnet9"), model_kwargs={"channels": [8, 8, 16, 16], "bn_scale": False},
                    init="dirac", lookahead_every=3, bn_bias_lr_mult=8.0, save_dir=str(tmp_path))
    summary = fit(recipe, progress=False)
    latest = Checkpoints(str(tmp_path)).latest()[0]
    model, slow = _params(os.path.join(latest, "model.params")), _params(os.path.join(latest, "lookahead.params"))
    assert sorted(model) == sorted(slow)
    assert all(np.array_equal(model[k], slow[k]) for k in model)  # the last step wrote the average in
    assert all((v == 1).all() for k, v in model.items() if k.endswith("gamma"))  # frozen BN scales
    epochs = [r for r in read_log(summary["log"]) if r["kind"] == "epoch"]
    assert epochs[-1]["train_acc"] > 0.2  # it learns (10 classes; 640 images, 20 steps)


def test_lookahead_refuses_float16_whose_master_weights_a_write_back_would_miss():
    from types import SimpleNamespace
    from gluon_tricks.train.hooks import LookaheadHook
    run = SimpleNamespace(recipe=Recipe(lookahead_every=5, dtype="float16"))
    with pytest.raises(ValueError, match="float16"):
        LookaheadHook(run)


@needs_data
@pytest.mark.slow
def test_mixup_ema_and_bn_recompute_run_and_report(tmp_path):
    recipe = Recipe(**dict(QUICK, epochs=3, train_samples=2560), mixup_alpha=0.4, cutmix_alpha=1.0, mixup_off_epochs=1,
                    ema_decay=0.9, bn_recompute_batches=4, tta_flip=True, cutout=6, random_erasing=0.2,
                    save_dir=str(tmp_path))
    summary = fit(recipe, progress=False)
    epochs = [r for r in read_log(summary["log"]) if r["kind"] == "epoch"]
    assert all(0 <= r["train_acc"] <= 1 and 0 <= r["ema_test_acc"] <= 1 for r in epochs)
    assert all(0 <= r["test_acc_one_view"] <= 1 for r in epochs)  # with flip TTA, also the image alone
    latest = Checkpoints(str(tmp_path)).latest()[0]
    model, ema = _params(os.path.join(latest, "model.params")), _params(os.path.join(latest, "ema.params"))
    # The average lags the weights (cosine ends at lr 0, so only by a little: compared exactly).
    weights = [k for k in model if k.endswith("weight")]
    assert sum(not np.array_equal(model[k], ema[k]) for k in weights) >= 0.9 * len(weights)
    lag = np.mean([np.abs(model[k] - ema[k]).mean() for k in weights])
    assert lag < 0.1 * np.mean([np.abs(model[k]).mean() for k in weights])  # an average of these weights
    # BN re-estimation replaced the running statistics and nothing else.
    recomputed = _params(str(tmp_path / "bn_recomputed.params"))
    stats = [k for k in model if k.endswith(("running_mean", "running_var"))]
    assert all(not np.allclose(model[k], recomputed[k]) for k in stats)
    assert all(np.array_equal(model[k], recomputed[k]) for k in model if k not in stats)
    assert 0 <= summary["bn_recomputed_test_acc"] <= 1
    assert summary["final_test_acc"] > 0.4  # 10 classes; a short, heavily augmented run


@needs_data
def test_whiten_images_sets_the_stem_from_the_training_images_and_it_stays_frozen(tmp_path):
    from gluon_tricks.data.loaders import build_loaders
    from gluon_tricks.models.whitening import patch_whitening
    recipe = Recipe(**dict(QUICK, epochs=1), whiten_images=300, save_dir=str(tmp_path))
    fit(recipe, progress=False)
    params = _final_params(tmp_path)
    expected = patch_whitening(build_loaders(recipe)[0].normalized(300), 3, 16)
    np.testing.assert_allclose(params["conv1.weight"], expected, rtol=1e-6)  # after 10 steps, unchanged


@needs_data
def test_eval_from_skips_the_early_evaluations(tmp_path):
    from gluon_tricks.train.report import time_to_accuracy
    summary = fit(Recipe(**dict(QUICK, epochs=3), eval_from=3, ema_decay=0.9, save_dir=str(tmp_path)), progress=False)
    epochs = [r for r in read_log(summary["log"]) if r["kind"] == "epoch"]
    assert [("test_acc" in r, "ema_test_acc" in r) for r in epochs] == [(False, False)] * 2 + [(True, True)]
    assert epochs[0]["wall_time"] < epochs[1]["wall_time"] < epochs[2]["wall_time"]
    assert summary["final_test_acc"] == epochs[2]["test_acc"] and summary["best_epoch"] == 3
    assert time_to_accuracy(epochs, [0.0]) == {0.0: epochs[2]["wall_time"]}  # unmeasured epochs reach nothing
    assert os.path.getsize(tmp_path / "curves.png") > 0
    assert Recipe(epochs=5, eval_from=4).evaluates(3) and not Recipe(epochs=5, eval_from=4).evaluates(2)
    with pytest.raises(ValueError, match="eval_from must be in"):
        Recipe(epochs=5, eval_from=6).validate()


@needs_data
@pytest.mark.slow
def test_distillation_from_a_saved_teacher(tmp_path):
    longer = dict(QUICK, epochs=3, train_samples=2560)
    teacher = fit(Recipe(**longer, save_dir=str(tmp_path / "teacher")), progress=False)
    student = fit(Recipe(**dict(longer, model="cifar_resnet20_v1c"), teacher="cifar_resnet20_v1b",
                         teacher_params=str(tmp_path / "teacher" / "best.params"), temperature=2.0,
                         hard_weight=0.5, save_dir=str(tmp_path / "student")), progress=False)
    assert teacher["final_test_acc"] > 0.5 and student["final_test_acc"] > 0.5
    epochs = [r for r in read_log(student["log"]) if r["kind"] == "epoch"]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]


# ----------------------------------------------------------------------------- bad input

def test_bfloat16_refused_with_the_missing_feature_named_when_absent(tmp_path):
    if HAS_BF16:
        pytest.skip("this CPU supports bfloat16; the refusal is tested by test_dtype_checks_say_what_is_missing")
    result = train_cifar("--dtype", "bfloat16", "--save-dir", tmp_path)
    assert result.returncode == 2 and "avx512_bf16 or AMX" in result.stderr


def test_log_records_are_json_lines(tmp_path):
    from gluon_tricks.train.report import JsonLog
    log = JsonLog(str(tmp_path / "sub" / "log.jsonl"))
    log.write({"kind": "start", "x": 1})
    log.write({"kind": "end"})
    lines = (tmp_path / "sub" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["start", "end"]


@needs_data
def test_accumulation_never_carries_gradients_across_epochs(tmp_path):
    """10 batches per epoch, accumulate 3: 3 steps per epoch, the 10th batch of each epoch unused."""
    recipe = Recipe(**dict(QUICK, epochs=2, accumulate=3, log_interval=1), save_dir=str(tmp_path))
    summary = fit(recipe, progress=False)
    assert summary["iterations"] == 6
    meta = Checkpoints(str(tmp_path)).latest()[1]
    assert meta["state"]["iteration"] == 6 and meta["state"]["epoch"] == 2


@needs_data
def test_param_stats_traces_mean_absolute_values_of_parameter_groups(tmp_path):
    from gluon_tricks.train import ParamStats
    groups = {"zeroed": r"^layer\d+\.\d+\.bn2\.gamma$", "stem": r"^bn1\.gamma$"}
    recipe = Recipe(**dict(QUICK, epochs=1, last_gamma=True), save_dir=str(tmp_path / "run"))
    fit(recipe, progress=False, hooks=[ParamStats(groups, every=2)])
    records = [json.loads(line) for line in open(tmp_path / "run" / "param_stats.jsonl")]
    assert records[0] == {"epoch": 0, "step": 0, "zeroed": 0.0, "stem": 1.0}  # zero-init and one-init, exactly
    assert [r["step"] for r in records[1:]] == [2, 4, 6, 8, 10, 10] and records[-1]["epoch"] == 0
    saved = mx.nd.load(str(tmp_path / "run" / "best.params"))  # one epoch: the final weights
    zeroed = [v.asnumpy() for k, v in saved.items() if k.startswith("layer") and k.endswith("bn2.gamma")]
    assert len(zeroed) == 9 and records[-1]["zeroed"] == pytest.approx(
        np.abs(np.concatenate(zeroed)).mean(), rel=1e-5)
    assert 0 < records[1]["zeroed"] < records[-1]["zeroed"] < 0.5  # they grow from zero, slowly
    with pytest.raises(ValueError, match="'typo' matches no parameter"):
        fit(Recipe(**QUICK, save_dir=str(tmp_path / "typo")), progress=False, hooks=[ParamStats({"typo": "^nothing$"})])


def test_time_to_accuracy_reads_the_first_evaluation_at_or_above_each_target():
    from gluon_tricks.train.report import time_to_accuracy
    log = [{"kind": "start"}, {"kind": "epoch", "test_acc": 0.91, "wall_time": 10.0},
           {"kind": "interval", "test_acc": 0.99},  # not an evaluation
           {"kind": "epoch", "test_acc": 0.935, "wall_time": 20.0}, {"kind": "epoch", "test_acc": 0.93, "wall_time": 30.0},
           {"kind": "epoch", "test_acc": 0.94, "wall_time": 40.0}]
    assert time_to_accuracy(log, [0.9, 0.93, 0.94, 0.95]) == {0.9: 10.0, 0.93: 20.0, 0.94: 40.0, 0.95: None}


def test_a_recipe_over_seeds_is_its_mean_spread_share_at_target_and_median_wall_time():
    from gluon_tricks.train.report import seed_summary
    s = seed_summary([0.941, 0.939, 0.944, 0.940], [150.0, 148.0, 170.0, 140.0], target=0.94)
    assert s["seeds"] == 4 and abs(s["mean"] - 0.941) < 1e-12
    assert abs(s["std"] - 0.0021602468994692) < 1e-9  # sample std (n - 1), as a spread over seeds is stated
    assert (s["min"], s["max"]) == (0.939, 0.944)
    assert s["share_at_target"] == 0.75  # 0.940 counts: at or above
    assert s["median_wall"] == 149.0
    assert seed_summary([0.95], [60.0])["std"] == 0.0
    with pytest.raises(ValueError):
        seed_summary([0.9, 0.91], [60.0])
