"""Math of mixup, CutMix, distillation (and its ensemble teacher), loss scaling, weight EMA, Lookahead, Dirac initialisation, frozen BN
scales with fast BN biases and test-time views against hand computations."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from gluon_tricks.train.ema import Lookahead, WeightEMA
from gluon_tricks.train.losses import DistillationLoss
from gluon_tricks.train.mixing import Mixer, blend, cutmix, cutmix_box
from gluon_tricks.train.precision import LossScaler


def test_mixup_is_the_convex_combination_of_images_and_targets():
    rng = np.random.default_rng(0)
    x = mx.nd.array(rng.normal(size=(4, 1, 3, 3)))
    t = mx.nd.one_hot(mx.nd.array([0, 1, 2, 3]), 4)
    xm, tm, lam, kind = Mixer(mixup_alpha=0.4)(x, t, np.random.default_rng(5))
    assert kind == "mixup" and 0 < lam < 1
    perm = np.random.default_rng(5)
    perm.random()  # the draws Mixer made before its permutation: prob check, then lam
    perm.beta(0.4, 0.4)
    perm = perm.permutation(4)
    np.testing.assert_allclose(xm.asnumpy(), lam * x.asnumpy() + (1 - lam) * x.asnumpy()[perm], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tm.asnumpy(), lam * t.asnumpy() + (1 - lam) * t.asnumpy()[perm], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tm.asnumpy().sum(axis=1), 1.0, rtol=1e-6)


def test_blend_with_lam_one_is_identity():
    x = mx.nd.arange(6).reshape((3, 2))
    np.testing.assert_array_equal(blend(x, np.array([2, 0, 1]), 1.0).asnumpy(), x.asnumpy())


def test_cutmix_box_area_and_lam_match_the_pasted_pixels():
    rng = np.random.default_rng(1)
    x = mx.nd.array(np.stack([np.full((1, 8, 8), i, np.float32) for i in range(3)]))
    perm = np.array([1, 2, 0])
    mixed, lam = cutmix(x, perm, 0.75, rng)
    m = mixed.asnumpy()
    for i in range(3):
        kept = (m[i, 0] == i).mean()
        assert kept == pytest.approx(lam)
        assert set(np.unique(m[i, 0])) <= {i, perm[i]}
    y0, y1, x0, x1 = cutmix_box(100, 100, 0.75, np.random.default_rng(0))
    assert 0 <= y0 <= y1 <= 100 and 0 <= x0 <= x1 <= 100


def test_mixer_off_and_probability():
    x, t = mx.nd.ones((2, 1, 2, 2)), mx.nd.one_hot(mx.nd.array([0, 1]), 2)
    assert Mixer()(x, t, np.random.default_rng(0))[3] == "none"
    kinds = {Mixer(mixup_alpha=1.0, cutmix_alpha=1.0, switch_prob=0.5)(x, t, np.random.default_rng(s))[3]
             for s in range(20)}
    assert kinds == {"mixup", "cutmix"}
    assert Mixer(mixup_alpha=1.0, prob=0.0)(x, t, np.random.default_rng(0))[3] == "none"


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("temperature,hard_weight", [(1.0, 0.5), (4.0, 0.3), (2.0, 0.0), (2.0, 1.0)])
def test_distillation_loss_by_hand(temperature, hard_weight):
    rng = np.random.default_rng(2)
    student, teacher = rng.normal(size=(3, 5)), rng.normal(size=(3, 5)) * 3
    target = np.eye(5)[[1, 4, 0]] * 0.9 + 0.02
    soft = np.exp(_log_softmax(teacher / temperature))
    expected = (hard_weight * -(target * _log_softmax(student)).sum(-1)
                + (1 - hard_weight) * temperature ** 2 * -(soft * _log_softmax(student / temperature)).sum(-1))
    got = DistillationLoss(temperature, hard_weight)(mx.nd.array(student), mx.nd.array(target), mx.nd.array(teacher))
    np.testing.assert_allclose(got.asnumpy(), expected, rtol=1e-5)


def test_distillation_rejects_bad_settings():
    with pytest.raises(ValueError):
        DistillationLoss(temperature=0)
    with pytest.raises(ValueError):
        DistillationLoss(hard_weight=1.5)


@pytest.mark.parametrize("hybridize", [False, True])
def test_an_ensemble_answers_with_the_mean_of_its_members_probabilities(hybridize):
    from mxnet.gluon import nn
    from gluon_tricks.models.ensemble import Ensemble, scoped_members
    rng = np.random.default_rng(3)
    x = mx.nd.array(rng.normal(size=(4, 6)))
    scales = (1.0, 40.0, 300.0)
    # one explicit prefix for all, as a registry's networks of one architecture have
    members = scoped_members(lambda scale: nn.Dense(5, in_units=6, prefix="fc_"), scales)
    for member, scale in zip(members, scales):
        member.initialize(mx.init.Normal(scale))
    ensemble = Ensemble(members)
    if hybridize:
        ensemble.hybridize()
    got = ensemble(x).asnumpy()
    probs = [np.exp(_log_softmax(m(x).asnumpy().astype(np.float64))) for m in members]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(np.exp(_log_softmax(got)), np.mean(probs, axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.exp(got).sum(axis=-1), 1.0, rtol=1e-5)  # already normalised log-probabilities
    # Members sure of other classes: probabilities below float32's range stay finite logits, not log(0).
    confident = Ensemble(members[2:] + [members[2]])
    assert np.isfinite(confident(x).asnumpy()).all()
    with pytest.raises(ValueError, match="at least two members"):
        Ensemble(members[:1])


def test_dynamic_loss_scale_halves_on_overflow_then_grows():
    s = LossScaler(init_scale=1024, dynamic=True, growth_interval=3)
    assert s.update(overflow=True) is False and s.scale == 512
    assert s.update(overflow=True) is False and s.scale == 256 and s.skipped == 2
    assert all(s.update(False) for _ in range(2)) and s.scale == 256
    assert s.update(False) and s.scale == 512  # third clean step in a row
    static = LossScaler(init_scale=128, dynamic=False)
    assert static.update(True) is False and static.scale == 128


def _one_step(scaler, inject):
    """A tiny model's step through the scaler, with an inf injected into one gradient."""
    net = mx.gluon.nn.Dense(2, in_units=3)
    net.initialize(mx.init.One())
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    before = net.weight.data().asnumpy().copy()
    with mx.autograd.record():
        loss = net(mx.nd.ones((4, 3))).sum() * scaler.scale
    loss.backward()
    if inject:
        net.weight.grad()[0, 0] = float("inf")
    grads = [p.grad() for p in net.collect_params().values()]
    if scaler.update(scaler.overflowed(grads)):
        trainer.step(4 * scaler.scale)  # rescale_grad = 1 / (batch * scale) unscales
    return before, net.weight.data().asnumpy()


def test_overflowing_step_is_skipped_and_weights_unchanged():
    scaler = LossScaler(init_scale=2.0 ** 10)
    before, after = _one_step(scaler, inject=True)
    np.testing.assert_array_equal(before, after)
    assert scaler.scale == 2.0 ** 9 and scaler.skipped == 1
    before, after = _one_step(scaler, inject=False)
    # d(sum)/dW = 4 per entry (batch of ones); unscaled and averaged: 1; step: -0.1
    np.testing.assert_allclose(after, before - 0.1, rtol=1e-6)


def test_weight_ema_by_hand():
    net = mx.gluon.nn.Dense(1, in_units=1)
    net.initialize(mx.init.Constant(1.0))
    ema = WeightEMA(net, decay=0.9)
    net.weight.set_data(mx.nd.array([[3.0]]))
    ema.update()
    net.weight.set_data(mx.nd.array([[5.0]]))
    ema.update()
    expected = 0.9 * (0.9 * 1 + 0.1 * 3) + 0.1 * 5  # 1.58
    assert ema.shadow["weight"].asscalar() == pytest.approx(expected)
    with ema.applied():
        assert net.weight.data().asscalar() == pytest.approx(expected)
    assert net.weight.data().asscalar() == 5.0  # restored


def test_lookahead_pulls_toward_the_slow_average_on_its_schedule_and_ends_on_it():
    net = mx.gluon.nn.Dense(1, in_units=1, use_bias=False)
    net.initialize(mx.init.Constant(1.0))
    la = Lookahead(net, total_steps=10, every=5, decay=0.5)
    assert la.decay_at(5) == pytest.approx(0.5 * 0.5 ** 3) and la.decay_at(10) == 1.0
    net.weight.set_data(mx.nd.array([[3.0]]))
    for step in (1, 2, 3, 4):  # between syncs: nothing happens
        la.step(step)
        assert net.weight.data().asscalar() == 3.0
    la.step(5)
    d = 0.5 * 0.5 ** 3
    slow = d * 1.0 + (1 - d) * 3.0
    assert net.weight.data().asscalar() == pytest.approx(slow)  # written back
    net.weight.set_data(mx.nd.array([[7.0]]))
    la.step(8)  # off-schedule: untouched
    assert net.weight.data().asscalar() == 7.0
    la.step(10)  # the last step: the weights become the slow average, whatever they were
    assert net.weight.data().asscalar() == pytest.approx(slow)
    with pytest.raises(ValueError, match="decay"):
        Lookahead(net, 10, 5, decay=1.0)


def test_dirac_init_makes_each_convolution_pass_its_input_through_in_its_first_channels():
    from gluon_tricks.models.initializers import DiracMSRA
    x = mx.nd.array(np.random.default_rng(0).normal(size=(2, 4, 6, 6)))
    widen = mx.gluon.nn.Conv2D(8, 3, padding=1, in_channels=4, use_bias=False)
    narrow = mx.gluon.nn.Conv2D(3, 3, padding=1, in_channels=4, use_bias=False)
    dense = mx.gluon.nn.Dense(5, in_units=4)
    for block in (widen, narrow, dense):
        block.initialize(DiracMSRA())
    y = widen(x).asnumpy()
    np.testing.assert_allclose(y[:, :4], x.asnumpy(), rtol=1e-6)  # identity in the first in-channels filters
    assert np.abs(y[:, 4:]).mean() > 0.1  # the new channels are random
    np.testing.assert_allclose(narrow(x).asnumpy(), x.asnumpy()[:, :3], rtol=1e-6)
    assert np.abs(dense.weight.data().asnumpy()).min() > 0 and dense.weight.data().asnumpy().std() > 0.1


def test_frozen_bn_scales_stay_at_one_and_bn_biases_move_bn_bias_lr_mult_times_as_far():
    from gluon_tricks.models.resnet9 import ResNet9
    from gluon_tricks.train.config import Recipe
    from gluon_tricks.train.step import build_trainer
    x = mx.nd.array(np.random.default_rng(0).normal(size=(8, 1, 12, 12)))
    y = mx.nd.array(np.arange(8) % 10)
    moved = {}
    for mult in (1.0, 8.0):
        mx.random.seed(0)
        net = ResNet9(channels=(4, 8, 8, 8), bn_scale=False)
        net.infer_shape(x)
        net.initialize(mx.init.Xavier())
        recipe = Recipe(optimizer="sgd", momentum=0.0, lr=0.1, wd=0.0, bn_bias_lr_mult=mult)
        trainer = build_trainer(recipe, net)
        before = {k: p.data().copy() for k, p in net.collect_params().items()}
        with mx.autograd.record():
            loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()(net(x), y)
        loss.backward()
        trainer.step(8)
        params = net.collect_params()
        moved[mult] = {k.split("_", 1)[1]: (p.data() - before[k]).asnumpy() for k, p in params.items()}
        gammas = [p.data().asnumpy() for k, p in params.items() if k.endswith("gamma")]
        assert gammas and all((g == 1).all() for g in gammas)
    betas = [k for k in moved[1.0] if k.endswith("beta")]
    weights = [k for k in moved[1.0] if k.endswith("weight")]
    assert betas and all(np.abs(moved[1.0][k]).max() > 0 for k in betas)
    for k in betas:
        np.testing.assert_allclose(moved[8.0][k], 8 * moved[1.0][k], rtol=1e-4, atol=1e-8)
    for k in weights:  # the same gradients: everything else moves as far as before
        np.testing.assert_allclose(moved[8.0][k], moved[1.0][k], rtol=1e-4, atol=1e-8)


def test_test_time_views_average_the_mirrored_and_moved_images_by_hand():
    from gluon_tricks.train.evaluation import accuracy_report, shifted, test_views
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 1, 5, 5)).astype("float32")
    moved = shifted(mx.nd.array(x), 1, -2).asnumpy()  # one row down, two columns left, edges repeated
    np.testing.assert_array_equal(moved[:, :, 1:, :3], x[:, :, :-1, 2:])
    np.testing.assert_array_equal(moved[:, :, 0, :3], x[:, :, 0, 2:])
    np.testing.assert_array_equal(moved[:, :, 1:, 3:], np.repeat(x[:, :, :-1, 4:], 2, axis=3))
    assert test_views(True, 0) == [(False, 0, 0), (True, 0, 0)]
    assert len(test_views(False, 1)) == 5 and len(test_views(True, 2)) == 10 and (True, 0, -2) in test_views(True, 2)

    net = mx.gluon.nn.Dense(3, in_units=25)  # position-dependent: every view gives other logits
    net.initialize(mx.init.Normal(1.0))
    y = np.array([0, 1, 2, 0, 1, 2])

    class Loader:
        def epoch(self):
            yield mx.nd.array(x), mx.nd.array(y)

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    w, b = net.weight.data().asnumpy(), net.bias.data().asnumpy()
    for flip, shift in ((False, 0), (True, 0), (False, 1), (True, 1)):
        views = []
        for mirror in ((False, True) if flip else (False,)):
            image = x[..., ::-1] if mirror else x
            padded = np.pad(image, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
            for dy, dx in [(0, 0)] + ([(1, 0), (-1, 0), (0, 1), (0, -1)] if shift else []):
                views.append(padded[:, :, 1 - dy:6 - dy, 1 - dx:6 - dx])
        prob = np.mean([softmax(v.reshape(6, -1) @ w.T + b) for v in views], axis=0)
        report = accuracy_report(net, Loader(), [mx.cpu()], tta_flip=flip, topk=2, tta_shift=shift)
        assert report["top1"] == pytest.approx((prob.argmax(axis=1) == y).mean())
        assert report["loss"] == pytest.approx(-np.log(prob[np.arange(6), y]).mean(), rel=1e-5)
        plain = (softmax(x.reshape(6, -1) @ w.T + b).argmax(axis=1) == y).mean()  # the image alone
        assert report.get("top1_one_view", report["top1"]) == pytest.approx(plain)
        assert ("top1_one_view" in report) == (len(views) > 1)


def test_dtype_checks_say_what_is_missing():
    from gluon_tricks.train.precision import PrecisionUnsupported, check_dtype

    cpu, gpu = [mx.cpu()], [mx.gpu(0)]
    check_dtype("float32", cpu)
    check_dtype("float16", gpu)  # only checks the combination; nothing runs on the GPU here
    with pytest.raises(PrecisionUnsupported, match="needs a GPU.*no float16 GEMM"):
        check_dtype("float16", cpu)
    with pytest.raises(PrecisionUnsupported, match="avx512_bf16 or AMX"):
        check_dtype("bfloat16", cpu, flags={"avx2", "fma"})
    check_dtype("bfloat16", cpu, flags={"avx2", "avx512_bf16"})
    check_dtype("bfloat16", cpu, flags={"amx_bf16"})
    with pytest.raises(PrecisionUnsupported, match="CPU only"):
        check_dtype("bfloat16", gpu)
    with pytest.raises(PrecisionUnsupported, match="unknown dtype"):
        check_dtype("int8", cpu)


def test_dtype_auto_picks_by_device_flags_and_measured_speed():
    from gluon_tricks.train.precision import bf16_advice, choose_dtype
    cpu, gpu = [mx.cpu()], [mx.gpu(0)]
    assert choose_dtype(gpu)[0] == "float16"
    dtype, why = choose_dtype(cpu, flags={"avx2"}, ratio=5.0)  # no native bf16: never bf16, whatever a probe says
    assert dtype == "float32" and "no avx512_bf16 or AMX" in why
    assert choose_dtype(cpu, flags={"avx512_bf16"}, ratio=1.94) == ("bfloat16", "bfloat16 GEMM runs 1.94x float32's "
                                                                               "on this CPU")
    dtype, why = choose_dtype(cpu, flags={"amx_bf16"}, ratio=0.63)  # the AMX Xeon under MXNet 1.9.1
    assert dtype == "float32" and "0.63x" in why
    assert choose_dtype(cpu, flags={"amx_bf16"}, ratio=1.05)[0] == "float32"  # too close to pay for AMP's casts
    assert "--dtype float32" in bf16_advice(cpu, flags={"amx_bf16"}, ratio=0.63)
    assert bf16_advice(cpu, flags={"amx_bf16"}, ratio=1.6) is None and bf16_advice(gpu) is None


def test_the_bf16_probe_is_measured_once_per_machine_and_cached(tmp_path):
    from gluon_tricks.machine import cpu_flags
    from gluon_tricks.train.precision import bf16_gemm_ratio
    if not cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        pytest.skip("no native bfloat16 on this CPU: the probe is never run")
    cache = str(tmp_path / "probe.json")
    ratio = bf16_gemm_ratio(n=256, repeats=2, cache=cache)
    assert 0.05 < ratio < 20
    stored = json.load(open(cache))
    assert list(stored.values()) == [ratio] and mx.__version__ in list(stored)[0]
    json.dump({k: 123.0 for k in stored}, open(cache, "w"))  # a cached answer is not measured again
    assert bf16_gemm_ratio(n=256, repeats=2, cache=cache) == 123.0


def test_amx_is_left_off_where_the_cpu_the_kernel_or_the_user_says_no():
    from gluon_tricks.machine import enable_amx

    def never():
        raise AssertionError("the kernel must not be asked")
    assert not enable_amx(flags={"avx512f", "avx512_bf16"}, environ={}, ask=never)  # no tiles
    chosen = {"DNNL_MAX_CPU_ISA": "AVX512_CORE_BF16"}
    assert not enable_amx(flags={"amx_tile", "amx_bf16"}, environ=chosen, ask=never)  # the user's cap wins
    assert chosen == {"DNNL_MAX_CPU_ISA": "AVX512_CORE_BF16"}
    refused = {}
    assert not enable_amx(flags={"amx_tile", "amx_bf16"}, environ=refused, ask=lambda: False)  # an old kernel
    assert refused == {}  # the cap is never set without the permission: the first tile instruction would kill us


AMX_PROBE = r"""
import os, subprocess, sys
import gluon_tricks, mxnet as mx
from gluon_tricks import machine
from mxnet.contrib import amp
assert machine.AMX and machine.machine_info()["amx"] and "DNNL_MAX_CPU_ISA" not in os.environ
x, w = mx.nd.random.uniform(shape=(4, 16, 8, 8)), mx.nd.random.uniform(-1, 1, shape=(32, 16, 3, 3))
conv = lambda a, b: mx.nd.Convolution(a, b, kernel=(3, 3), num_filter=32, no_bias=True, pad=(1, 1))
bf = lambda t: mx.nd.amp_cast(t, dtype=amp.amp.bfloat16)
exact, tiles = conv(x, w), mx.nd.amp_cast(conv(bf(x), bf(w)), dtype="float32")
print("relative error", (abs(tiles - exact).max() / abs(exact).max()).asscalar())
plain = "import runpy; runpy.run_path(%r)['restore']()\n" % gluon_tricks.numpy_names.__file__ + "import mxnet as mx; from mxnet.contrib import amp; a = mx.nd.amp_cast(mx.nd.ones((4, 4)), dtype=amp.amp.bfloat16); mx.nd.FullyConnected(a, a, no_bias=True, num_hidden=4).wait_to_read()"
print("child", subprocess.run([sys.executable, "-c", plain], env=dict(os.environ, DNNL_VERBOSE="0")).returncode)
"""


def test_amx_runs_bfloat16_on_tiles_and_a_child_process_without_the_permission_still_runs():
    from gluon_tricks.machine import cpu_flags
    if "amx_tile" not in cpu_flags():
        pytest.skip("no AMX on this CPU")
    out = subprocess.run([sys.executable, "-c", AMX_PROBE], env=dict(os.environ, DNNL_VERBOSE="1"),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "brgconv:avx512_core_amx" in out.stdout  # oneDNN's verbose log names the tile kernel it ran
    error = float(out.stdout.split("relative error ")[1].split()[0])
    assert error < 0.02  # bfloat16 keeps 8 bits of mantissa; a wrong tile kernel is far off
    assert "child 0" in out.stdout  # a plain-MXNet child would die of SIGILL had the cap leaked to it
