"""Models: GluonCV parity, parameter counts, shapes, the tweak switches, hybrid == imperative."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from conftest import PLAIN_MXNET

from gluon_tricks import get_model
from gluon_tricks.models import ResNet, UnknownModel, WeightsMismatch, builder, model_settings
from gluon_tricks.models import registered_names as registry_names


@pytest.fixture(scope="module")
def gluoncv():
    """GluonCV, the parity reference: only the parity tests need it."""
    return pytest.importorskip("gluoncv")

# Every name GluonCV publishes ImageNet or CIFAR weights for in these families (model_store.py).
PUBLISHED = (
    ["resnet%d_v1" % d for d in (18, 34, 50, 101, 152)]
    + ["resnet%d_v1b" % d for d in (18, 34, 50, 101, 152)]
    + ["resnet%d_v1%s" % (d, v) for v in "cds" for d in (50, 101, 152)]
    + ["resnet%d_v2" % d for d in (18, 34, 50, 101, 152)]
    + ["cifar_resnet%d_v%d" % (d, v) for v in (1, 2) for d in (20, 56, 110)]
    + ["cifar_wideresnet16_10", "cifar_wideresnet28_10", "cifar_wideresnet40_8"]
    + ["%sresnext%s" % (se, v) for se in ("", "se_") for v in ("50_32x4d", "101_32x4d", "101_64x4d")]
    + ["cifar_resnext29_16x64d", "mobilenetv2_1.0", "mobilenetv2_0.75", "mobilenetv2_0.5", "mobilenetv2_0.25"]
    + ["mobilenet1.0", "mobilenet0.75", "mobilenet0.5", "mobilenet0.25", "inceptionv3"]
)
# GluonCV builds these too (no published weights): same layouts, checked the same way.
UNPUBLISHED = ["resnet50_v1e", "se_resnet18_v1", "se_resnet50_v1", "se_resnet50_v2", "cifar_resnext29_32x4d"]
# Inception-V3's valid convolutions need at least 75 px; its weights' size is 299.
SIZES = {"inceptionv3": 299}
NATIVE = [n for n in registry_names() if builder(n) == "gluon_tricks"]


def _shape(name):
    return (2, 3, 32, 32) if name.startswith("cifar") else (2, 3, SIZES.get(name, 64), SIZES.get(name, 64))


def _randomise(net, seed=0):
    """Random BN statistics and affine terms, so BN is not the identity and the comparison bites."""
    rng = np.random.RandomState(seed)
    for name, p in net.collect_params().items():
        if name.endswith("running_var"):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))
        elif name.endswith(("running_mean", "beta")):
            p.set_data(mx.nd.array(rng.uniform(-0.2, 0.2, p.shape)))
        elif name.endswith("gamma"):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))


def _trainable(net):
    return sum(int(np.prod(p.shape)) for p in net.collect_params().values() if p.grad_req != "null")


@pytest.mark.parametrize("name", PUBLISHED + UNPUBLISHED)
def test_gluoncv_parity(name, tmp_path, gluoncv):
    shape = _shape(name)
    theirs = gluoncv.model_zoo.get_model(name, pretrained=False)
    theirs.initialize(mx.init.Xavier(magnitude=2))
    theirs(mx.nd.zeros(shape))
    _randomise(theirs)
    path = str(tmp_path / (name + ".params"))
    theirs.save_parameters(path)

    ours = get_model(name)
    ours.load_parameters(path)  # strict: every parameter present, none extra, shapes equal

    file_shapes = {k: v.shape for k, v in mx.nd.load(path).items()}
    assert sorted(map(tuple, file_shapes.values())) == sorted(tuple(p.shape) for p in ours.collect_params().values())
    x = mx.nd.random.uniform(-1, 1, shape)
    expected = theirs(x).asnumpy()
    got = ours(x).asnumpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(expected).max() > 1e-2  # the outputs compared are not all ~0


# Trainable parameter counts, 1000 classes (10 for CIFAR); torchvision and the GluonCV tables agree.
KNOWN_COUNTS = {
    "resnet18_v1b": 11_689_512, "resnet34_v1b": 21_797_672, "resnet50_v1b": 25_557_032,
    "resnet101_v1b": 44_549_160, "resnet152_v1b": 60_192_808, "resnet50_v1d": 25_576_264,  # timm resnet50d
    "cifar_resnet9": 6_573_120,  # Myrtle.ai's ResNet-9 (10 classes, classifier without bias): "6.57M"
    "resnext50_32x4d": 25_028_904,  # torchvision resnext50_32x4d
    "mobilenet1.0": 4_231_976,  # Keras MobileNet 1.0: 4,253,864 less its 21,888 BN running statistics
    "mobilenetv2_1.0": 3_503_872,  # Keras' 3,504,872 trainable less 1,000 classifier biases (GluonCV's has none)
}


@pytest.mark.parametrize("name,count", sorted(KNOWN_COUNTS.items()))
def test_parameter_count(name, count):
    net = get_model(name)
    net.initialize()
    net(mx.nd.zeros((1, 3, 64, 64)))
    assert _trainable(net) == count


def test_resnet50_v1b_is_25_56m():
    net = get_model("resnet50_v1b")
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    assert round(_trainable(net) / 1e6, 2) == 25.56


@pytest.mark.parametrize("name", NATIVE)
def test_every_network_written_here_runs(name):
    net = get_model(name, classes=7)
    net.initialize()
    small = model_settings(name).get("small_input", False)
    out = net(mx.nd.random.uniform(shape=(2, 3, 32, 32) if small else _shape(name)))
    assert out.shape == (2, 7)
    assert np.isfinite(out.asnumpy()).all()


@pytest.mark.parametrize("name", ["resnet50_v1d", "resnet18_v2", "cifar_resnet20_v1", "se_resnet18_v1"])
def test_hybrid_equals_imperative(name):
    net = get_model(name)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=_shape(name))
    imperative = net(x).asnumpy()
    net.hybridize(static_alloc=True, static_shape=True)
    np.testing.assert_allclose(net(x).asnumpy(), imperative, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(net(x).asnumpy(), imperative, atol=1e-5, rtol=1e-5)  # cached graph too


def _conv_strides(net):
    return {name: blk._kwargs["stride"] for name, blk in _named_convs(net)}


def _named_convs(block, prefix=""):
    for key, child in block._children.items():
        name = prefix + key
        if isinstance(child, mx.gluon.nn.Conv2D):
            yield name, child
        yield from _named_convs(child, name + ".")


def test_resnet_a_vs_b_stride_placement():
    """A strides the bottleneck's first 1x1 conv, B its 3x3 (paper Figure 2a vs 2b)."""
    a, b = _conv_strides(get_model("resnet50_v1")), _conv_strides(get_model("resnet50_v1b"))
    assert a["layer2.0.conv1"] == (2, 2) and a["layer2.0.conv2"] == (1, 1)
    assert b["layer2.0.conv1"] == (1, 1) and b["layer2.0.conv2"] == (2, 2)


def test_resnet_c_deep_stem_and_d_avg_shortcut():
    c, d = get_model("resnet50_v1c"), get_model("resnet50_v1d")
    kernels = [blk._kwargs["kernel"] for _, blk in _named_convs(c.conv1)]
    assert kernels == [(3, 3)] * 3
    assert isinstance(get_model("resnet50_v1b").conv1, mx.gluon.nn.Conv2D)
    down = d.layer2[0].downsample
    assert isinstance(down[0], mx.gluon.nn.AvgPool2D) and down[0]._kwargs["stride"] == (2, 2)
    assert down[1]._kwargs["stride"] == (1, 1)  # the 1x1 conv no longer skips 3/4 of the input
    assert isinstance(get_model("resnet50_v1c").layer2[0].downsample[0], mx.gluon.nn.Conv2D)


def test_last_gamma_zero_makes_every_unit_identity_on_its_branch():
    net = get_model("resnet18_v1b", last_gamma=True)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    gammas = {k: p.data().asnumpy() for k, p in net._collect_params_with_prefix().items() if k.endswith("gamma")}
    last = [k for k in gammas if k.endswith("bn2.gamma") and k.startswith("layer")]
    assert len(last) == 8 and all((gammas[k] == 0).all() for k in last)
    assert (gammas["bn1.gamma"] == 1).all() and (gammas["layer1.0.bn1.gamma"] == 1).all()


def test_block_ablations_change_the_function_not_the_parameters():
    x = mx.nd.random.uniform(shape=(2, 3, 32, 32))
    base = get_model("cifar_resnet20_v1b")
    base.initialize(mx.init.Xavier())
    base(x)
    _randomise(base)
    outputs = {}
    for label, kwargs in {"base": {}, "bn_after_add": {"bn_after_add": True},
                          "no_relu": {"relu_after_add": False}}.items():
        net = get_model("cifar_resnet20_v1b", **kwargs)
        net.initialize()
        net(x)
        for key, p in net._collect_params_with_prefix().items():
            p.set_data(base._collect_params_with_prefix()[key].data())
        outputs[label] = net(x).asnumpy()
    assert np.abs(outputs["base"] - outputs["bn_after_add"]).max() > 1e-3
    assert np.abs(outputs["base"] - outputs["no_relu"]).max() > 1e-3
    with pytest.raises(ValueError, match="last_gamma"):
        get_model("cifar_resnet20_v1b", bn_after_add=True, last_gamma=True)


def test_small_input_accepts_c_and_d_switches():
    net = get_model("cifar_resnet20_v1", stem="deep", down="avg", stem_relu=True)
    net.initialize()
    assert net(mx.nd.zeros((1, 1, 28, 28))).shape == (1, 10)
    assert isinstance(net.layer2[0].downsample[0], mx.gluon.nn.AvgPool2D)


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownModel, match="resnet50_v1d"):
        get_model("resnet50_v1x")
    with pytest.raises(ValueError, match="6n\\+2"):
        get_model("cifar_resnet20_v1", depth=21)
    with pytest.raises(ValueError, match="depth"):
        ResNet(depth=42)


def test_wrong_weights_are_named(tmp_path):
    net = get_model("cifar_resnet20_v1b", classes=10)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    path = str(tmp_path / "w.params")
    net.save_parameters(path)
    other = get_model("cifar_resnet20_v1b", classes=100)
    other.initialize()
    other(mx.nd.zeros((1, 3, 32, 32)))
    with pytest.raises(WeightsMismatch, match="fc.weight"):
        other.load_parameters(path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(WeightsMismatch, match="truncated"):
        net.load_parameters(path)
    subset = str(tmp_path / "subset.params")
    mx.nd.save(subset, {k: v.data() for k, v in net._collect_params_with_prefix().items() if not k.startswith("fc")})
    with pytest.raises(WeightsMismatch, match="lacks 2 parameter.*fc.bias, fc.weight"):
        net.load_parameters(subset)
    with pytest.raises(FileNotFoundError, match="missing.params"):
        net.load_parameters(str(tmp_path / "missing.params"))


def test_parameter_names_are_pinned():
    """Structural names decide which files load; changing them breaks every published weight."""
    names = list(get_model("resnet50_v1d")._collect_params_with_prefix())
    assert names[:3] == ["conv1.0.weight", "conv1.1.gamma", "conv1.1.beta"]
    assert "layer1.0.downsample.1.weight" in names and "layer4.2.bn3.gamma" in names
    assert names[-2:] == ["fc.weight", "fc.bias"]
    v2 = list(get_model("resnet18_v2")._collect_params_with_prefix())
    assert v2[0].startswith("features.0.")  # the input-normalising BN comes first
    assert "features.6.0.downsample.weight" in v2 and v2[-1] == "output.bias"


def test_wide_resnet_dropout_sits_before_each_units_last_conv_and_adds_no_parameters():
    plain, dropped = get_model("cifar_wideresnet16_10"), get_model("cifar_wideresnet16_10", drop_rate=0.3)
    for net in (plain, dropped):
        net.initialize()
        net(mx.nd.zeros((1, 3, 32, 32)))
    assert sorted(plain._collect_params_with_prefix()) == sorted(dropped._collect_params_with_prefix())
    units = [u for stage in list(dropped.features)[3:6] for u in stage]
    assert len(units) == 6 and all(isinstance(u.drop, mx.gluon.nn.Dropout) for u in units)
    x = mx.nd.random.uniform(shape=(2, 3, 32, 32))
    assert np.array_equal(dropped(x).asnumpy(), dropped(x).asnumpy())  # inference: dropout off
    with mx.autograd.train_mode():
        assert not np.array_equal(dropped(x).asnumpy(), dropped(x).asnumpy())


@pytest.mark.parametrize("name, shape", [("cifar_resnet20_v1d", (4, 3, 32, 32)), ("resnet50_v1b", (2, 3, 64, 64)),
                                         ("cifar_resnet9", (4, 1, 28, 28)), ("mobilenet0.25", (2, 3, 32, 32)),
                                         ("inceptionv3", (1, 3, 107, 107)), ("cifar_resnext29_32x4d", (2, 3, 32, 32))])
def test_fused_bn_relu_computes_and_learns_exactly_what_bn_then_relu_does(name, shape, tmp_path):
    from mxnet import autograd
    same = {"dropout": 0.0} if name == "inceptionv3" else {}  # dropout would draw different masks
    plain, fused = get_model(name, classes=10, **same), get_model(name, classes=10, fused_bn_relu=True, **same)
    plain.initialize(mx.init.Xavier())
    plain(mx.nd.zeros(shape))
    plain.save_parameters(str(tmp_path / "p.params"))
    fused.load_parameters(str(tmp_path / "p.params"))  # the same names: GluonCV files load into either
    ops = {type(b).__name__ for b in _blocks(fused)}
    assert "BatchNormReLU" in ops
    x = mx.nd.random.normal(shape=shape)
    results = []
    for net in (plain, fused):
        net.hybridize()
        with autograd.record():
            loss = net(x).sum()
        loss.backward()
        params = net._collect_params_with_prefix()
        results.append({k: (p.grad() if p.grad_req != "null" else p.data()).asnumpy() for k, p in params.items()})
    assert results[0].keys() == results[1].keys()
    for k in results[0]:  # gradients, and the BN running statistics the forward pass updated
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-5, atol=1e-6, err_msg=k)


def _blocks(block):
    yield block
    for child in block._children.values():
        yield from _blocks(child)


def test_global_pooling_reduction_and_pooling_op_agree_forward_and_backward():
    from gluon_tricks.models import GlobalAvgPool, inference_graph
    x = mx.nd.random.normal(shape=(4, 16, 7, 7), dtype="float32")
    ref, ours = mx.gluon.nn.GlobalAvgPool2D(), GlobalAvgPool()
    outs, grads = [], []
    for block in (ref, ours):
        block.hybridize()
        xi = x.copy()
        xi.attach_grad()
        with mx.autograd.record():
            out = block(xi)
            (out * mx.nd.arange(16).reshape((1, 16, 1, 1))).sum().backward()
        outs.append(out.asnumpy())
        grads.append(xi.grad.asnumpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-7)
    assert grads[1][0, 3, 2, 5] == pytest.approx(3 / 49)
    net = get_model("cifar_resnet20_v1b", classes=10)
    net.initialize()
    net.hybridize()
    y = net(x[:, :3])
    ops = lambda: {n["op"] for n in json.loads(net._cached_graph[1].tojson())["nodes"]}  # noqa: E731
    assert "mean" in ops() and "Pooling" not in ops()
    inference_graph(net)
    np.testing.assert_allclose(net(x[:, :3]).asnumpy(), y.asnumpy(), rtol=1e-5, atol=1e-6)
    assert "Pooling" in ops() and "mean" not in ops()


def test_training_step_of_a_cifar_resnet_runs_no_reference_kernels_in_pooling_or_batch_norm(tmp_path):
    """oneDNN's reference kernels (``ref:any``) are its ~100x slower fallbacks: with
    nn.GlobalAvgPool2D, cifar_resnet20's backward took them for the pooling and every BN behind it."""
    import subprocess
    import sys
    script = tmp_path / "step.py"
    script.write_text(
        PLAIN_MXNET + "import sys, mxnet as mx\n"  # MXNet first, as before gluon_tricks is imported
        "from mxnet import autograd, gluon\n"
        "from gluon_tricks import get_model\n"
        "net = get_model('cifar_resnet20_v1b', classes=10)\n"
        "if sys.argv[1] == 'plain':\n"
        "    net._children['avgpool'] = gluon.nn.GlobalAvgPool2D()\n"
        "    object.__setattr__(net, 'avgpool', net._children['avgpool'])\n"
        "net.initialize(); net.hybridize(static_alloc=True)\n"
        "x = mx.nd.random.normal(shape=(32, 3, 28, 28)); y = mx.nd.zeros((32,))\n"
        "with autograd.record():\n"
        "    loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(x), y)\n"
        "loss.backward(); mx.nd.waitall()\n")
    env = dict(os.environ, DNNL_VERBOSE="1")

    def slow_kernels(variant):
        out = subprocess.run([sys.executable, str(script), variant], env=env, capture_output=True, text=True,
                             check=True).stdout
        assert "batch_normalization,bnorm" in out and "backward" in out  # the verbose log is there to read
        return [line for line in out.splitlines() if "ref:any" in line and ("pooling" in line or "batch_norm" in line)]

    assert slow_kernels("ours") == []
    if "avx512f" in open("/proc/cpuinfo").read():  # where the fallback was measured (blocked 16-channel layouts)
        assert slow_kernels("plain"), "nn.GlobalAvgPool2D no longer triggers the fallback: the workaround may go"


def test_resnet9_space_to_depth_stem_runs_the_first_stage_at_half_size():
    from gluon_tricks.models.complexity import complexity
    kw = dict(classes=10, channels=(16, 32, 64, 128))
    plain, folded = get_model("cifar_resnet9", **kw), get_model("cifar_resnet9", space_to_depth=2, **kw)
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    shapes = {}
    for key, net in (("plain", plain), ("folded", folded)):
        net.initialize(mx.init.Xavier())
        y = mx.nd.space_to_depth(x, block_size=2) if net is folded else x
        shapes[key] = [tuple(y.shape)]
        for stage in list(net.features)[:3]:
            y = stage(y)
            shapes[key].append(tuple(y.shape))
        assert net(x).shape == (2, 10)
    assert shapes["folded"] == [(2, 4, 14, 14), (2, 16, 14, 14), (2, 32, 14, 14), (2, 32, 14, 14)]
    assert shapes["plain"] == [(2, 1, 28, 28), (2, 16, 28, 28), (2, 32, 14, 14), (2, 32, 14, 14)]  # pooled after
    (p_plain, m_plain), (p_folded, m_folded) = complexity(plain, (1, 28, 28)), complexity(folded, (1, 28, 28))
    assert p_folded - p_plain == 16 * 3 * 3 * 3  # the prep conv reads 4 channels, not 1
    # prep: 28^2 x 9 x 1 x 16 = 14^2 x 9 x 4 x 16; stage 1's conv at 14^2 instead of 28^2 (16 -> 32)
    assert m_plain - m_folded == (28 * 28 - 14 * 14) * 9 * 16 * 32
    with pytest.raises(ValueError, match="space_to_depth must be 1"):
        get_model("cifar_resnet9", space_to_depth=3)


def test_resnet9_pool_first_pools_before_bn_relu_and_keeps_the_weights():
    kw = dict(classes=10, channels=(8, 16, 16, 32), fused_bn_relu=True)
    plain, pooled = get_model("cifar_resnet9", **kw), get_model("cifar_resnet9", pool_first=True, **kw)
    plain.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    plain(x)
    pooled.initialize()
    pooled(x)
    for name, p in plain.collect_params().items():  # the same parameters under the same names
        q = pooled.collect_params()[name]
        q.set_data(p.data() + mx.nd.random.uniform(-0.5, 0.5, shape=p.shape) if "beta" in name else p.data())
    block = pooled.features[1]  # the first stage's pooled conv: conv -> pool -> BN + ReLU
    conv, _, bn = list(block)
    prep = pooled.features[0](x)
    h = mx.nd.Pooling(conv(prep), kernel=(2, 2), stride=(2, 2), pool_type="max")
    by_hand = mx.nd.relu((h - bn.running_mean.data().reshape(1, -1, 1, 1))
                         / mx.nd.sqrt(bn.running_var.data().reshape(1, -1, 1, 1) + bn._kwargs["eps"])
                         * bn.gamma.data().reshape(1, -1, 1, 1) + bn.beta.data().reshape(1, -1, 1, 1))
    np.testing.assert_allclose(block(prep).asnumpy(), by_hand.asnumpy(), rtol=1e-4, atol=1e-5)
    # with a negative shift BN + ReLU no longer commutes with the max: the two orders differ
    assert not np.allclose(pooled(x).asnumpy(), plain(x).asnumpy(), atol=1e-4)


def test_resnet9_without_prep_layer_saves_its_multiply_adds():
    from gluon_tricks.models.complexity import complexity
    kw = dict(classes=10, channels=(16, 32, 64, 128))
    full, bare = get_model("cifar_resnet9", **kw), get_model("cifar_resnet9", prep_layer=False, **kw)
    for net in (full, bare):
        net.initialize(mx.init.Xavier())
        assert net(mx.nd.zeros((2, 1, 28, 28))).shape == (2, 10)
    assert len(full.features) - len(bare.features) == 1
    (p_full, m_full), (p_bare, m_bare) = complexity(full, (1, 28, 28)), complexity(bare, (1, 28, 28))
    # gone: the prep conv (1 -> 16) and stage 1 reading 16 channels; stage 1 now reads the image
    assert m_full - m_bare == 28 * 28 * 9 * (1 * 16 + 16 * 32 - 1 * 32)
    assert p_full - p_bare == 9 * (16 + 16 * 32 - 32) + 2 * 16  # and the prep BN's gamma and beta


def test_patch_whitening_filters_are_the_top_principal_directions_at_unit_variance():
    from gluon_tricks.models.whitening import patch_whitening
    rng = np.random.default_rng(0)
    # correlated pixels: smoothed noise, so 3x3 patches have a spread-out, unequal spectrum
    noise = rng.normal(size=(64, 1, 14, 14))
    images = noise + 0.8 * np.roll(noise, 1, axis=3) + 0.5 * np.roll(noise, 1, axis=2) + 0.3
    filters = patch_whitening(images, 3, 8, eps=0.0)
    assert filters.shape == (8, 1, 3, 3)
    np.testing.assert_allclose(filters[4:], -filters[:4])  # each filter and its negative
    patches = np.lib.stride_tricks.sliding_window_view(images, (3, 3), axis=(2, 3)).reshape(-1, 9)
    centred = patches - patches.mean(axis=0)
    responses = centred @ filters[:4].reshape(4, 9).T
    np.testing.assert_allclose(np.cov(responses.T, bias=True), np.eye(4), atol=1e-6)  # white
    # the four directions are the ones of largest variance: they span the top singular subspace
    top = np.linalg.svd(centred, full_matrices=False)[2][:4]
    directions = filters[:4].reshape(4, 9)
    directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    np.testing.assert_allclose(np.abs(directions @ top.T), np.eye(4), atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        patch_whitening(images, 3, 7)
    with pytest.raises(ValueError, match="only 9"):
        patch_whitening(images, 3, 20)


def test_whitened_first_conv_is_set_and_frozen_through_a_training_step():
    from gluon_tricks.models.whitening import patch_whitening, whiten_first_conv
    from gluon_tricks.train import Recipe
    from gluon_tricks.train.step import Stepper, build_loss, build_trainer
    net = get_model("cifar_resnet9", classes=10, channels=(8, 16, 16, 32))
    x = mx.nd.random.normal(shape=(16, 1, 12, 12))
    net.infer_shape(x)  # as ready_network does: a forward pass would leave oneDNN layouts behind
    net.initialize(mx.init.Xavier())
    conv = whiten_first_conv(net, x.asnumpy())
    assert conv is net.features[0][0] and conv.weight.grad_req == "null"
    np.testing.assert_allclose(conv.weight.data().asnumpy(), patch_whitening(x.asnumpy(), 3, 8), rtol=1e-6)
    before = {k: p.data().asnumpy().copy() for k, p in net.collect_params().items()}
    recipe = Recipe(model="cifar_resnet9", batch_size=16, lr=0.1)
    trainer = build_trainer(recipe, net)
    Stepper(recipe, net, trainer, build_loss(recipe), [mx.cpu()], 10)(x, mx.nd.arange(16) % 10, 0, None)
    changed = {k for k, p in net.collect_params().items() if not np.array_equal(p.data().asnumpy(), before[k])}
    assert conv.weight.name not in changed
    assert any("conv" in k and "weight" in k for k in changed)  # the other convolutions trained
    with pytest.raises(ValueError, match="images of 3 channels"):
        whiten_first_conv(net, np.zeros((2, 3, 12, 12), np.float32))
    with pytest.raises(ValueError, match="whiten_images works on the small"):
        Recipe(dataset="images", whiten_images=100).validate()


# ----------------------------------------------------------------------------- the paper's other networks

GLUONCV_BUILT = [n for n in registry_names() if builder(n) == "gluoncv"]


def test_the_registry_says_who_builds_each_network_and_gluoncv_builds_what_it_says():
    assert {"vgg16", "densenet121", "resnest50", "squeezenet1.1", "mobilenetv3_small"} <= set(GLUONCV_BUILT)
    assert builder("mobilenetv2_1.0") == builder("inceptionv3") == builder("resnext50_32x4d") == "gluon_tricks"
    from gluoncv.model_zoo.model_zoo import _models
    assert set(GLUONCV_BUILT) <= set(_models)  # every name is one GluonCV builds
    for name in ("vgg11_bn", "squeezenet1.1", "resnest14", "mobilenetv3_small", "nasnet_4_1056"):
        net = get_model(name, classes=7)
        assert type(net).__module__.startswith("gluoncv."), name
    from gluon_tricks import list_models
    assert set(list_models(built_by="gluoncv")) == set(GLUONCV_BUILT)
    assert "mobilenetv2_1.0" in list_models("mobilenet*", built_by="gluon_tricks")
    assert "fashion_mnist_resnet9_w32" in list_models(built_by="gluon_tricks")  # published names: by architecture
    net = get_model("vgg11", classes=7)
    net.initialize()
    net.hybridize()
    assert net(mx.nd.zeros((1, 3, 64, 64))).shape == (1, 7)


def test_settings_a_network_does_not_have_are_refused_in_one_line():
    from gluon_tricks.models import SettingRefused
    with pytest.raises(SettingRefused, match="vgg16 is built by GluonCV, whose constructor has no setting 'down'"):
        get_model("vgg16", down="avg")
    with pytest.raises(SettingRefused, match="mobilenet1.0 has no setting 'stem'; its settings: classes, fused_bn_relu"):
        get_model("mobilenet1.0", stem="deep")
    for name in ("mobilenet0.5", "inceptionv3"):
        with pytest.raises(ValueError, match="has no residual units"):
            get_model(name, last_gamma=True)
    with pytest.raises(UnknownModel, match="did you mean: .*mobilenetv2_1.0"):
        get_model("mobilenetv2_1")


def test_gluoncv_settings_are_judged_from_signatures_before_anything_is_built(monkeypatch):
    import gluoncv.model_zoo
    from gluon_tricks.models import SettingRefused
    from gluon_tricks.models.gluoncv_built import FAMILIES, NAMES, accepted_settings, family

    def never(*args, **kwargs):
        raise AssertionError("GluonCV's constructor ran for a refused setting")
    monkeypatch.setattr(gluoncv.model_zoo, "get_model", never)
    with pytest.raises(SettingRefused, match="densenet121 .* no setting 'stem'; its settings: bn_size, classes, "
                                             "dropout, norm_kwargs, norm_layer, params, prefix"):
        get_model("densenet121", stem="deep")
    assert {"multiplier", "classes"} <= accepted_settings("mobilenetv3_small")  # from get_mobilenet_v3's signature
    assert "prefix" not in accepted_settings("xception")  # Xception65 takes no **kwargs for HybridBlock
    assert not {"pretrained", "ctx", "root"} & accepted_settings("alexnet")  # weights load through our zoo
    assert family("xception71") == "xception71" and family("se_resnext101e_64x4d") == "se_resnext"
    assert {family(n) for n in NAMES} == set(FAMILIES)  # every family serves a name, every name a family

    def inside(name, **kwargs):  # an error of GluonCV's own while building
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
    monkeypatch.setattr(gluoncv.model_zoo, "get_model", inside)
    with pytest.raises(TypeError, match="unsupported operand"):  # not dressed up as the user's mistake
        get_model("densenet121", classes=3)


def test_resnext_is_the_resnet_with_grouped_bottlenecks_and_takes_the_d_switches():
    net = get_model("resnext50_32x4d", stem="deep", down="avg", last_gamma=True)
    unit = net.layer1[0]
    assert unit.conv2._kwargs["num_group"] == 32 and unit.conv2._channels == 128  # 32 groups of 4 per 64 planes
    assert unit.conv3._channels == 256 and isinstance(net.conv1, mx.gluon.nn.HybridSequential)
    assert isinstance(net.layer2[0].downsample[0], mx.gluon.nn.AvgPool2D)
    net.initialize()
    assert net(mx.nd.random.uniform(shape=(1, 3, 64, 64))).shape == (1, 1000)
    for u in net.layer1:  # zero-gamma: each unit adds nothing to its shortcut
        assert float(u.bn3.gamma.data().abs().sum().asscalar()) == 0
    fb = get_model("cifar_resnext29_32x4d", bn_after_add=True, relu_after_add=False)  # fb.resnet.torch's blocks
    fb.initialize()
    assert fb(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 10) and not fb.layer1[0]._relu_after_add
    with pytest.raises(ValueError, match="basic blocks have none"):
        get_model("resnet18_v1b", cardinality=32)


@pytest.mark.parametrize("name, size, final", [("mobilenet0.25", 28, 2), ("mobilenetv2_0.25", 28, 4),
                                               ("mobilenetv2_0.25", 32, 4), ("mobilenet0.25", 224, 7)])
def test_mobilenets_small_input_setting_keeps_resolution_for_28_to_32_px(name, size, final):
    small = size < 64
    net = get_model(name, small_input=small, classes=10)
    net.initialize()
    feats = net.features[:-2 if name.startswith("mobilenet0") else -1](mx.nd.zeros((1, 3, size, size)))
    assert feats.shape[2:] == (final, final)  # the map before global pooling
    assert net(mx.nd.zeros((2, 3, size, size))).shape == (2, 10)


def test_mobilenetv2_zero_gamma_makes_each_residual_unit_the_identity():
    from gluon_tricks.models.mobilenet import LinearBottleneck
    net = get_model("mobilenetv2_0.25", small_input=True, classes=10, last_gamma=True)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 28, 28)))  # shapes
    units = [b for b in net.features._children.values() if isinstance(b, LinearBottleneck)]
    residual = [u for u in units if u.use_shortcut]
    assert len(residual) == 10  # rows of Table 2: (2-1) + (3-1) + (4-1) + (3-1) + (3-1)
    for u in residual:
        x = mx.nd.random.uniform(shape=(2, u.out[0].weight.shape[1], 8, 8))
        np.testing.assert_array_equal(u(x).asnumpy(), x.asnumpy())
    plain = get_model("mobilenetv2_0.25", small_input=True, classes=10)
    plain.initialize(mx.init.Xavier())
    plain(mx.nd.zeros((1, 3, 28, 28)))
    u = [b for b in plain.features._children.values() if isinstance(b, LinearBottleneck) and b.use_shortcut][0]
    x = mx.nd.random.uniform(shape=(2, u.out[0].weight.shape[1], 8, 8))
    assert np.abs(u(x).asnumpy() - x.asnumpy()).max() > 1e-3  # without it the branch adds something
