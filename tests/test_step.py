"""The real training step (Stepper), the trainer the recipe builds, and the precision and
reduction policies: the paths fit() takes, driven directly."""
import mxnet as mx
import numpy as np
import pytest

from gluon_tricks.train import Precision, Recipe, Reduction, Schedule
from gluon_tricks.train.precision import LossScaler
from gluon_tricks.train.step import Stepper, build_loss, build_trainer
from gluon_tricks.zoo import ready_network

SHAPE = (1, 8, 8)


def _stepper(scaler=None, **fields):
    recipe = Recipe(model="cifar_resnet20_v1b", batch_size=4, lr=0.1, label_smoothing=0.0, **fields).validate()
    mx.random.seed(0)
    net = ready_network(recipe.model, 3, mx.nd.zeros((1,) + SHAPE), [mx.cpu()])
    net.hybridize()
    trainer = build_trainer(recipe, net, precision=Precision("float32"))
    stepper = Stepper(recipe, net, trainer, build_loss(recipe), [mx.cpu()], 3)
    stepper.scaler = scaler  # the float16 path's scaler, on a float32 network (no float16 on CPU)
    return stepper


def _weights(net):
    return {k: v.data().asnumpy().copy() for k, v in net._collect_params_with_prefix().items()}


def _batch(bad=False):
    x = np.random.default_rng(0).standard_normal((4,) + SHAPE).astype(np.float32)
    if bad:
        x[0, 0, 0, 0] = np.inf  # overflows every gradient that depends on it
    return mx.nd.array(x), mx.nd.array([0, 1, 2, 0])


@pytest.mark.parametrize("dynamic", [True, False])
def test_the_real_step_skips_an_overflowing_update_and_keeps_the_weights(dynamic):
    scaler = LossScaler(2.0 ** 8, dynamic=dynamic, growth_interval=2)
    stepper = _stepper(scaler)
    before = _weights(stepper.net)
    applied, _ = stepper(*_batch(bad=True), 0, None)
    after = _weights(stepper.net)
    assert applied is False and scaler.skipped == 1
    # No weight moved. (BN's running statistics did: MXNet updates them in the backward pass,
    # which ran before the overflow was seen. A skipped step keeps them, as in PyTorch's AMP.)
    learned = [k for k in before if not k.endswith(("running_mean", "running_var"))]
    assert len(learned) > 50 and all(np.array_equal(before[k], after[k]) for k in learned)
    assert scaler.scale == (2.0 ** 7 if dynamic else 2.0 ** 8)
    for _ in range(2):
        applied, _ = stepper(*_batch(), 0, None)
        assert applied is True
    assert scaler.scale == (2.0 ** 8 if dynamic else 2.0 ** 8)  # two clean steps: doubled back (dynamic)
    moved = _weights(stepper.net)
    assert any(not np.array_equal(after[k], moved[k]) for k in after if k.endswith("weight"))


def test_a_scaled_step_equals_the_unscaled_step():
    # The scale multiplies the loss and divides the gradient again: the update is the same.
    plain, scaled = _stepper(), _stepper(LossScaler(2.0 ** 10, dynamic=False))
    for s in (plain, scaled):
        s(*_batch(), 0, None)
    a, b = _weights(plain.net), _weights(scaled.net)
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5


def test_mixup_acts_in_the_real_step_until_its_last_epochs():
    stepper = _stepper(mixup_alpha=1.0, mixup_off_epochs=1, epochs=3)
    rng = np.random.default_rng(3)
    _, done = stepper(*_batch(), 0, rng)
    mixed = done[0][2][0].asnumpy()
    assert not np.allclose(mixed.max(axis=1), 1.0)  # soft targets: two labels blended
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, rtol=1e-6)
    _, done = stepper(*_batch(), 2, rng)  # the last epoch: mixup off
    np.testing.assert_array_equal(done[0][2][0].asnumpy(), np.eye(3)[[0, 1, 2, 0]])


def test_the_trainer_the_recipe_builds():
    recipe = Recipe(model="cifar_resnet20_v1b", optimizer="nag", lr=0.2, momentum=0.8, wd=3e-4, no_wd=True,
                    batch_size=64, lr_batch_scale=256, dtype="float16")
    net = ready_network(recipe.model, 3, mx.nd.zeros((1,) + SHAPE), [mx.cpu()])
    trainer = build_trainer(recipe, net, Reduction("device", workers=4), Precision.from_recipe(recipe))
    opt = trainer._optimizer
    assert type(opt).__name__ == "NAG" and opt.momentum == 0.8 and opt.wd == 3e-4
    assert opt.multi_precision is True  # float32 master weights under float16
    assert opt.learning_rate == pytest.approx(0.2 * 64 * 4 / 256)  # the linear rule counts the 4 workers
    decay = {p.name: p.wd_mult for p in net.collect_params().values()}
    assert all(m == 0 for n, m in decay.items() if n.endswith(("gamma", "beta", "bias")))
    assert all(m == 1 for n, m in decay.items() if n.endswith("weight"))
    assert trainer._kvstore_params["update_on_kvstore"] is False  # the step reduces and updates itself
    float32 = build_trainer(Recipe(model=recipe.model), net, precision=Precision("float32"))
    assert not float32._optimizer.multi_precision and float32._kvstore_params["update_on_kvstore"] is None


def test_linear_scaling_reaches_the_schedule_with_the_worker_count():
    recipe = Recipe(lr=0.1, batch_size=32, lr_batch_scale=64, warmup_epochs=0, epochs=2, lr_mode="step")
    assert Schedule.from_recipe(recipe, 10)(0) == pytest.approx(0.05)
    assert Schedule.from_recipe(recipe, 10, workers=2)(0) == pytest.approx(0.1)


def test_precision_policy():
    fp16, bf16, fp32 = Precision("float16"), Precision("bfloat16"), Precision("float32")
    assert fp16.input_dtype == "float16" and bf16.input_dtype == fp32.input_dtype == "float32"
    assert fp16.optimizer_params() == {"multi_precision": True} and fp32.optimizer_params() == {}
    assert fp16.scaler().dynamic and Precision("float16", loss_scale=128).scaler().scale == 128
    assert fp32.scaler() is None and bf16.scaler() is None
    net = ready_network("cifar_resnet20_v1b", 3, mx.nd.zeros((1,) + SHAPE), [mx.cpu()])
    fp16.prepare(net, hybridize=False)
    dtypes = {p.name.rsplit("_", 1)[-1]: np.dtype(p.dtype) for p in net.collect_params().values()}
    assert dtypes["weight"] == np.float16 and dtypes["gamma"] == np.float32  # BN stays float32
    with pytest.raises(ValueError, match="unknown dtype"):
        Precision("int4")


def test_reduction_divides_by_what_the_trainer_sums():
    assert Reduction("dist_sync", workers=4).grad_sum_over == 4  # a kvstore sums the workers' gradients
    assert Reduction("horovod", workers=4).grad_sum_over == 1  # Horovod's trainer averages them
    assert Reduction().grad_sum_over == 1 and Reduction().devices([mx.cpu(0), mx.cpu(1)]) == [mx.cpu(0), mx.cpu(1)]


def test_accuracy_report_counts_top_k_and_the_loss_by_hand():
    from mxnet.gluon import nn
    from gluon_tricks.train import accuracy_report
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((10, 6)).astype(np.float32)
    labels = rng.integers(0, 6, 10)

    class Loader:  # two batches of logits that a Flatten "network" passes through
        def epoch(self):
            for part in (slice(0, 7), slice(7, 10)):
                yield mx.nd.array(logits[part, :, None, None]), mx.nd.array(labels[part])
    report = accuracy_report(nn.Flatten(), Loader(), [mx.cpu()], topk=3)
    rank = (logits > logits[np.arange(10), labels][:, None]).sum(axis=1)  # classes scoring above the label
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert report["images"] == 10
    assert report["top1"] == pytest.approx(np.mean(rank == 0))
    assert report["top3"] == pytest.approx(np.mean(rank < 3)) and report["top3"] < 1
    assert report["loss"] == pytest.approx(-np.mean(np.log(prob[np.arange(10), labels])), rel=1e-5)


@pytest.mark.parametrize("layer", ["BatchNorm", "BatchNormReLU"])
def test_bn_recomputation_averages_the_batches_statistics(layer):
    from mxnet.gluon import nn
    from gluon_tricks.train.evaluation import recompute_bn_stats
    # A lone BN: its recomputed running mean must be the mean over the batches it saw (MXNet
    # updates running statistics in backward only; a forward-only pass left them untouched).
    # The fused BN + ReLU is no subclass of nn.BatchNorm: it was skipped until this test had it.
    net = nn.HybridSequential()
    net.add(getattr(nn, layer)(in_channels=2))
    net.initialize()
    net.hybridize()
    batches = [np.random.default_rng(k).normal(3 + k, 1 + k, (8, 2, 4, 4)).astype(np.float32) for k in range(3)]

    class Loader:
        def epoch(self, seed):
            for b in batches:
                yield mx.nd.array(b), mx.nd.zeros(8)
    recompute_bn_stats(net, Loader(), 3, [mx.cpu()])
    expected_mean = np.mean([b.mean(axis=(0, 2, 3)) for b in batches], axis=0)
    expected_var = np.mean([b.var(axis=(0, 2, 3)) for b in batches], axis=0)
    bn = net[0]
    np.testing.assert_allclose(bn.running_mean.data().asnumpy(), expected_mean, rtol=1e-4)
    # (MXNet's running variance is the biased batch variance: checked to a looser tolerance)
    np.testing.assert_allclose(bn.running_var.data().asnumpy(), expected_var, rtol=0.05)
    assert [p.grad_req for p in net.collect_params().values()] == ["write", "write", "null", "null"]  # restored
