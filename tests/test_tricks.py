"""The math of each trick in the baseline recipe, checked against closed forms."""
import dataclasses
import math

import mxnet as mx
import numpy as np
import pytest

from gluon_tricks import get_model
from gluon_tricks.train import Recipe, Schedule
from gluon_tricks.train.step import build_trainer
from gluon_tricks.train.losses import SoftTargetLoss, smooth_targets


def test_warmup_is_linear_from_warmup_lr():
    s = Schedule(base_lr=0.4, total_iters=1000, warmup_iters=100, warmup_lr=0.0)
    assert s(0) == 0.0
    assert s(25) == pytest.approx(0.1)
    assert s(50) == pytest.approx(0.2)
    assert s(100) == pytest.approx(0.4)  # warmup ends exactly at the peak
    s = Schedule(base_lr=0.4, total_iters=1000, warmup_iters=100, warmup_lr=0.1)
    assert s(50) == pytest.approx(0.25)


def test_cosine_after_warmup():
    s = Schedule(base_lr=0.4, total_iters=1100, warmup_iters=100, mode="cosine")
    for it in (100, 300, 600, 850, 1100):
        t = (it - 100) / 1000
        assert s(it) == pytest.approx(0.4 * (1 + math.cos(math.pi * t)) / 2)
    assert s(600) == pytest.approx(0.2)  # half way: half the peak
    assert s(1100) == pytest.approx(0.0, abs=1e-12)
    assert s(5000) == pytest.approx(0.0, abs=1e-12)  # past the end it stays at the floor
    assert Schedule(base_lr=1.0, total_iters=100, mode="cosine", final_lr=0.1)(50) == pytest.approx(0.55)


def test_step_linear_poly():
    step = Schedule(base_lr=1.0, total_iters=100, mode="step", steps=(30, 60), factor=0.1)
    assert [step(i) for i in (0, 29, 30, 59, 60, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert Schedule(base_lr=1.0, total_iters=100, mode="linear")(25) == pytest.approx(0.75)
    assert Schedule(base_lr=1.0, total_iters=100, mode="poly", power=2)(50) == pytest.approx(0.25)


def test_schedule_from_recipe_counts_iterations():
    r = Recipe(epochs=10, warmup_epochs=2, lr=0.2, batch_size=512, lr_batch_scale=256)
    s = Schedule.from_recipe(r, iters_per_epoch=50)
    assert (s.total_iters, s.warmup_iters, s.base_lr) == (500, 100, pytest.approx(0.4))  # 0.2 * 512 / 256


def test_label_smoothing_targets():
    t = smooth_targets(mx.nd.array([2, 0]), classes=4, epsilon=0.1).asnumpy()
    expected = np.full((2, 4), 0.1 / 4)
    expected[0, 2] = expected[1, 0] = 0.9 + 0.1 / 4
    np.testing.assert_allclose(t, expected, rtol=1e-6)
    np.testing.assert_allclose(t.sum(axis=1), 1.0, rtol=1e-6)
    hard = smooth_targets(mx.nd.array([1]), classes=3, epsilon=0.0).asnumpy()
    np.testing.assert_array_equal(hard, [[0, 1, 0]])


def test_soft_target_loss_by_hand():
    logits = np.array([[2.0, 0.5, -1.0]])
    target = np.array([[0.8, 0.15, 0.05]])
    log_p = logits - np.log(np.exp(logits).sum())
    expected = -(target * log_p).sum()
    got = SoftTargetLoss()(mx.nd.array(logits), mx.nd.array(target)).asnumpy()
    np.testing.assert_allclose(got, [expected], rtol=1e-5)
    # With one-hot targets it is ordinary cross-entropy.
    ce = mx.gluon.loss.SoftmaxCrossEntropyLoss()(mx.nd.array(logits), mx.nd.array([0])).asnumpy()
    np.testing.assert_allclose(SoftTargetLoss()(mx.nd.array(logits), mx.nd.array([[1, 0, 0]])).asnumpy(), ce, rtol=1e-5)


def test_no_wd_exempts_bn_and_bias_only():
    net = get_model("cifar_resnet20_v1b")
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    build_trainer(Recipe(no_wd=True), net)
    mults = {name: p.wd_mult for name, p in net.collect_params().items()}
    exempt = {n for n, m in mults.items() if m == 0.0}
    assert exempt and all(n.endswith(("gamma", "beta", "bias")) for n in exempt)
    assert all(m == 1.0 for n, m in mults.items() if n.endswith("weight"))
    assert any(n.endswith("dense0_bias") for n in exempt)


def test_no_wd_really_skips_decay_in_the_update():
    """With zero gradient, a decayed weight shrinks by lr*wd and an exempt one does not move."""
    net = mx.gluon.nn.Dense(2, in_units=2)
    net.initialize(mx.init.One())
    net.bias.set_data(mx.nd.ones((2,)))
    trainer = build_trainer(Recipe(no_wd=True, wd=0.1, lr=1.0, optimizer="sgd", momentum=0.0), net)
    with mx.autograd.record():
        loss = (net(mx.nd.zeros((1, 2))) * 0).sum()
    loss.backward()
    trainer.step(1)
    np.testing.assert_allclose(net.weight.data().asnumpy(), 0.9, rtol=1e-6)
    np.testing.assert_allclose(net.bias.data().asnumpy(), 1.0, rtol=1e-6)


def test_recipe_rejects_bad_values_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match="label_smoothing"):
        Recipe(label_smoothing=1.5).validate()
    with pytest.raises(ValueError, match="warmup_epochs"):
        Recipe(epochs=2, warmup_epochs=3).validate()
    with pytest.raises(ValueError, match="unknown recipe field"):
        Recipe.from_dict({"learning_rate": 0.1})
    r = Recipe(epochs=7, lr_decay_epochs=(3, 5), model_kwargs={"stem": "deep"})
    path = str(tmp_path / "r.json")
    r.save(path)
    assert Recipe.load(path) == r
    yaml_path = tmp_path / "r.yaml"
    yaml_path.write_text("epochs: 3\nmodel: cifar_resnet56_v1d\nlr_decay_epochs: [1, 2]\n")
    loaded = Recipe.load(str(yaml_path))
    assert (loaded.epochs, loaded.model, loaded.lr_decay_epochs) == (3, "cifar_resnet56_v1d", (1, 2))


def test_a_recipe_file_changes_the_file_it_names_as_its_base(tmp_path):
    from gluon_tricks.errors import InputNotFound
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "a.yaml").write_text("epochs: 30\nlr: 0.4\nmodel_kwargs: {channels: [8, 16, 32, 64]}\n")
    (tmp_path / "b.yaml").write_text("base: zoo/a.yaml\nepochs: 56\n")  # relative to the file, not the cwd
    (tmp_path / "c.yaml").write_text("base: b.yaml\nmodel_kwargs: {fused_bn_relu: true}\nlr: 0.2\n")
    b, c = Recipe.load(str(tmp_path / "b.yaml")), Recipe.load(str(tmp_path / "c.yaml"))
    assert (b.epochs, b.lr, b.model_kwargs) == (56, 0.4, {"channels": [8, 16, 32, 64]})
    assert (c.epochs, c.lr, c.model_kwargs) == (56, 0.2, {"fused_bn_relu": True})  # a field is replaced whole
    assert c == dataclasses.replace(Recipe(), epochs=56, lr=0.2, model_kwargs={"fused_bn_relu": True})
    (tmp_path / "d.yaml").write_text("base: e.yaml\n")
    (tmp_path / "e.yaml").write_text("base: d.yaml\nepochs: 2\n")
    with pytest.raises(ValueError, match=r"its own base \(.*d.yaml -> .*e.yaml -> .*d.yaml\)"):
        Recipe.load(str(tmp_path / "d.yaml"))
    (tmp_path / "f.yaml").write_text("base: gone.yaml\n")
    with pytest.raises(InputNotFound, match=r"gone.yaml does not exist \(the base of .*f.yaml\)"):
        Recipe.load(str(tmp_path / "f.yaml"))
    (tmp_path / "g.yaml").write_text("base: [a.yaml]\n")
    with pytest.raises(ValueError, match="base must be a file name"):
        Recipe.load(str(tmp_path / "g.yaml"))
