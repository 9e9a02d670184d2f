"""The published recipes in model_zoo/: their schedules are the ones their papers describe, and the
fast ResNet-9 recipe trains."""
import dataclasses
import json
import os

import pytest

from conftest import ROOT, needs_data, train_cifar
from gluon_tricks.train import Recipe
from gluon_tricks.train.schedule import Schedule

ZOO = os.path.join(ROOT, "model_zoo")


def test_fast_recipe_is_one_cycle_peaking_at_epoch_5():
    r = Recipe.load(os.path.join(ZOO, "cifar10_resnet9_fast.yaml"))
    s = Schedule.from_recipe(r, 100)
    assert s(0) == 0 and s(250) == pytest.approx(0.2) and s(500) == pytest.approx(0.4)
    assert s(1450) == pytest.approx(0.2) and s(2400) == pytest.approx(0.0)
    assert (r.model, r.batch_size, r.label_smoothing, r.cutout, r.pad_crop) == ("cifar_resnet9", 512, 0.2, 8, 4)


def test_classic_recipe_divides_by_10_at_epochs_82_and_123():
    r = Recipe.load(os.path.join(ZOO, "cifar10_resnet56_classic.yaml"))
    s = Schedule.from_recipe(r, 391)  # 50000 / 128
    assert s(82 * 391 - 1) == pytest.approx(0.1) and s(82 * 391) == pytest.approx(0.01)
    assert s(123 * 391) == pytest.approx(0.001) and r.optimizer == "sgd" and r.wd == 1e-4


def test_the_faster_recipe_is_the_fast_one_shorter_hotter_uncropped_and_evaluated_late():
    """What its header and the time-to-accuracy results say it changes, and nothing else."""
    fast, faster = (Recipe.load(os.path.join(ZOO, f)) for f in ("fashion_mnist_fast.yaml", "fashion_mnist_faster.yaml"))
    changed = {k for k, v in faster.to_dict().items() if fast.to_dict()[k] != v}
    assert changed == {"epochs", "lr", "warmup_epochs", "pad_crop", "train_sizes", "eval_from", "save_dir"}
    assert (faster.epochs, faster.lr, faster.warmup_epochs, faster.pad_crop) == (8, 2 * fast.lr, 1.5, 0)
    assert faster.train_sizes == (20, 24) + (28,) * 6 and faster.flip and faster.tta_flip
    assert [e for e in range(faster.epochs) if faster.evaluates(e)] == [6, 7]


def test_the_fastest_recipe_is_the_faster_one_longer_at_low_size_whitened_and_evaluated_once():
    """Row 20 of the time-to-accuracy path (docs/results/time_to_accuracy.rst) (10 epochs, whitened prep layer) with one
    evaluation, in float32 on every CPU: the README runs it, and its minutes were measured in float32."""
    faster, fastest = (Recipe.load(os.path.join(ZOO, f)) for f in ("fashion_mnist_faster.yaml",
                                                                    "fashion_mnist_fastest.yaml"))
    changed = {k for k, v in fastest.to_dict().items() if faster.to_dict()[k] != v}
    assert changed == {"epochs", "train_sizes", "whiten_images", "eval_from", "save_dir"}
    assert fastest.train_sizes == (20,) * 3 + (24,) * 2 + (28,) * 5 and fastest.whiten_images == 5000
    assert [e for e in range(fastest.epochs) if fastest.evaluates(e)] == [9] and fastest.dtype == "float32"
    assert fastest.model_kwargs["fused_bn_relu"]  # float32 keeps it; bfloat16 turns it off (loop.unfused_under_bf16)


def test_with_epochs_keeps_the_schedule_at_the_same_fractions_of_training():
    """The tricks/baseline proxy of issue 14 shortens the 30-epoch pair to 14 epochs this way."""
    base = Recipe.load(os.path.join(ZOO, "fashion_mnist_resnet9_w32_e30_baseline.yaml"))
    short = base.with_epochs(14)
    assert short.epochs == 14 and short.lr_decay_epochs == pytest.approx((3.5, 7.0, 10.5))
    long_steps, short_steps = Schedule.from_recipe(base, 100), Schedule.from_recipe(short, 100)
    for fraction in (0.1, 0.3, 0.6, 0.9):  # the same lr at the same point of either run
        assert short_steps(int(fraction * 1400)) == pytest.approx(long_steps(int(fraction * 3000)))
    tricks = dataclasses.replace(Recipe.load(os.path.join(ZOO, "fashion_mnist_resnet9_w32_e30.yaml")),
                                 mixup_off_epochs=6).with_epochs(15)
    assert (tricks.warmup_epochs, tricks.mixup_off_epochs, tricks.lr, tricks.label_smoothing) == (1.0, 3, 0.4, 0.1)
    with pytest.raises(ValueError, match="progressive"):
        Recipe.load(os.path.join(ZOO, "fashion_mnist_fast.yaml")).with_epochs(7)


@needs_data
def test_fast_recipe_trains_a_narrow_resnet9_on_fashion_mnist(tmp_path):
    run = train_cifar("--recipe", os.path.join(ZOO, "cifar10_resnet9_fast.yaml"), "--dataset", "fashion-mnist",
                      "--model-kwargs", '{"channels": [16, 32, 64, 128]}', "--batch-size", "128", "--epochs", "3",
                      "--warmup-epochs", "1", "--train-samples", "3072", "--test-samples", "1000",
                      "--log-interval", "8", "--save-dir", str(tmp_path), "--no-progress")
    assert run.returncode == 0, run.stderr[-2000:]
    epochs = [r for r in map(json.loads, open(tmp_path / "log.jsonl")) if r["kind"] == "epoch"]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] and epochs[-1]["test_acc"] > 0.6
