"""scripts/evaluate.py and scripts/classify.py on a run trained on real JPEGs."""
import glob
import json
import os

import pytest

from conftest import needs_data

from gluon_tricks.train import Recipe, fit


from gluon_tricks.cli import classify, evaluate, export  # noqa: E402


@pytest.fixture(scope="module")
def run(fashion_jpegs, tmp_path_factory):
    save = tmp_path_factory.mktemp("run")
    recipe = Recipe(dataset="images", model="cifar_resnet20_v1b", input_size=32, batch_size=32, epochs=4,
                    warmup_epochs=0.5, lr=0.2, jitter=0.2, lighting=0.0, save_dir=str(save),
                    rec_train=str(fashion_jpegs / "train_rec.rec"), rec_val=str(fashion_jpegs / "val_rec.rec"))
    return save, fit(recipe, progress=False)


def test_evaluate_a_run_reproduces_its_best_validation_accuracy(run, fashion_jpegs, tmp_path, capsys):
    save, summary = run
    report = evaluate.main(["--run", str(save), "--json", str(tmp_path / "r.json")])
    assert report["top1"] == pytest.approx(summary["best_test_acc"], abs=1e-6)
    # (with 4 classes top-5 is trivially 1; the top-k count is tested in test_step.py)
    assert report["top1"] <= report["top5"] and report["images"] == 96 and report["img_per_s"] > 0
    assert json.load(open(tmp_path / "r.json"))["top1"] == report["top1"]
    assert "top-1 %.4f" % report["top1"] in capsys.readouterr().out
    # The same weights named as a registry model + file, on the folder tree instead of the .rec.
    again = evaluate.main(["--model", "cifar_resnet20_v1b", "--params", str(save / "best.params"), "--data-dir",
                           str(fashion_jpegs), "--input-size", "32"])
    assert again["top1"] == pytest.approx(report["top1"], abs=0.03)  # JPEG decoders differ slightly


def test_classify_names_the_classes_of_real_images(run, fashion_jpegs, capsys):
    save, summary = run
    images = sorted(glob.glob(str(fashion_jpegs / "val" / "*" / "00[0-4].jpg")))
    results = classify.main(["--run", str(save), "--top", "3", *images])
    assert all(len(r) == 3 and r[0][1] >= r[1][1] >= r[2][1] for r in results)
    right = sum(r[0][0] == os.path.basename(os.path.dirname(path)) for path, r in zip(images, results))
    assert right >= 0.6 * len(images)  # names come from the run's classes.json
    out = capsys.readouterr().out
    assert "1. " in out and "%" in out

    as_model = classify.main(["--model", "cifar_resnet20_v1b", "--params", str(save / "best.params"),
                              "--classes", str(fashion_jpegs / "train_rec.classes.json"), "--input-size", "32",
                              "--json", images[0]])
    assert as_model[0][0][0] == results[0][0][0]
    assert json.loads(capsys.readouterr().out.splitlines()[0])["image"] == images[0]


@pytest.mark.parametrize("script, argv, reason", [
    ("classify", ["--run", "RUN", "/nowhere.jpg"], "no such image file"),
    ("classify", ["--model", "resnet18_v1b", "IMG"], "name the network"),
    ("classify", ["--run", "/nowhere", "IMG"], "not a training run directory"),
    ("evaluate", ["--model", "cifar_resnet20_v1b", "--params", "PARAMS"], "name the data"),
    ("evaluate", ["--run", "RUN", "--rec-val", "/nowhere/val.rec"], "/nowhere/val.rec does not exist"),
])
def test_bad_input_stops_with_one_line(run, fashion_jpegs, script, argv, reason, capsys):
    save, _ = run
    image = str(fashion_jpegs / "val" / "bag" / "000.jpg")
    argv = [{"RUN": str(save), "IMG": image, "PARAMS": str(save / "best.params")}.get(a, a) for a in argv]
    with pytest.raises(SystemExit) as exit_:
        {"classify": classify, "evaluate": evaluate}[script].main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and reason in err and len(err.strip().splitlines()) == 1




def resnet_d_with_odd_bn(classes, rng, path):
    """ResNet-18-D (64 px) whose BN statistics are far from 0/1, so folding them wrongly would
    show; its weights saved to ``path``."""
    from gluon_tricks import get_model
    return with_odd_bn(get_model("resnet18_v1d", classes=classes), (1, 3, 64, 64), rng, path)


def with_odd_bn(net, shape, rng, path):
    """``net`` initialised for inputs of ``shape``, its BN statistics and affine parameters drawn far
    from 0/1, saved to ``path``."""
    import mxnet as mx
    net.initialize(mx.init.Xavier(magnitude=2))
    net(mx.nd.zeros(shape))
    for name, p in net.collect_params().items():
        if name.endswith(("running_mean", "running_var", "gamma", "beta")):
            low = 0.5 if name.endswith(("running_var", "gamma")) else -0.3
            p.set_data(mx.nd.array(rng.uniform(low, low + 1.0, p.shape)))
    net.save_parameters(str(path))
    return net


def test_export_of_a_resnet_d_gives_onnx_outputs_equal_to_mxnet(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime comes with the test extra")
    import mxnet as mx
    import numpy as np
    import onnx

    rng = np.random.default_rng(0)
    net = resnet_d_with_odd_bn(7, rng, tmp_path / "d.params")
    paths = export.main(["--model", "resnet18_v1d", "--params", str(tmp_path / "d.params"), "--input-size", "64",
                         "--output", str(tmp_path / "out" / "r18d"), "--check"])
    assert paths["difference"] < 1e-4
    graph = onnx.load(paths["onnx"]).graph
    assert [i.name for i in graph.input] == ["data"]  # weights are initializers only
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_value == 0  # dynamic batch axis

    x = mx.nd.array(rng.standard_normal((3, 3, 64, 64)))
    reloaded = mx.gluon.SymbolBlock.imports(paths["symbol"], ["data"], paths["params"])
    np.testing.assert_allclose(reloaded(x).asnumpy(), net(x).asnumpy(), rtol=1e-5, atol=1e-5)
    assert "_sg_mkldnn" not in open(paths["symbol"]).read()  # the portable graph, not oneDNN's fused one


def test_predictor_runs_the_fused_graph_with_the_plain_graphs_numbers(tmp_path):
    """Inference folds each BN into its convolution (oneDNN's subgraph backend): outputs must match
    the plain graph with BN statistics far from 0/1, and export must not break the fusion."""
    import mxnet as mx
    import numpy as np

    from gluon_tricks.export import export as write
    from gluon_tricks.inference import Predictor
    if not mx.runtime.Features().is_enabled("MKLDNN"):
        pytest.skip("this MXNet build has no oneDNN")
    rng = np.random.default_rng(1)
    net = resnet_d_with_odd_bn(5, rng, tmp_path / "d.params")
    net.hybridize(static_alloc=True, static_shape=True)
    predictor = Predictor.from_model("resnet18_v1d", str(tmp_path / "d.params"), input_size=64)
    x = mx.nd.array(rng.standard_normal((2, 3, 64, 64)))

    def fused():
        return predictor.net._cached_graph[1].tojson().count("_sg_mkldnn_conv")

    np.testing.assert_allclose(predictor.net(x).asnumpy(), net(x).asnumpy(), rtol=1e-4, atol=1e-4)
    assert fused() >= 20  # every convolution of ResNet-18-D (21 with the shortcuts') runs fused
    write(predictor, str(tmp_path / "m"), onnx=False)
    np.testing.assert_allclose(predictor.net(x).asnumpy(), net(x).asnumpy(), rtol=1e-4, atol=1e-4)
    assert fused() >= 20
    other = resnet_d_with_odd_bn(5, rng, tmp_path / "e.params")  # other weights: the folded ones must follow
    other.hybridize(static_alloc=True, static_shape=True)
    predictor.net.load_parameters(str(tmp_path / "e.params"))
    np.testing.assert_allclose(predictor.net(x).asnumpy(), other(x).asnumpy(), rtol=1e-4, atol=1e-4)
    assert fused() >= 20


def test_export_of_a_run_says_how_to_preprocess(run, tmp_path):
    save, _ = run
    paths = export.main(["--run", str(save), "--output", str(tmp_path / "m"), "--no-onnx"])
    meta = json.load(open(paths["meta"]))
    assert meta["input_shape"] == [None, 3, 32, 32] and meta["resize_shorter_side"] == 37
    assert meta["classes"] == ["bag", "sneaker", "trouser", "tshirt"] and len(meta["mean"]) == 3
    assert "onnx" not in paths and os.path.isfile(paths["params"])


@needs_data
def test_a_fashion_mnist_run_classifies_grayscale_files_and_evaluates_on_its_test_set(tmp_path):
    from PIL import Image

    from gluon_tricks.data import load_fashion_mnist
    summary = fit(Recipe(train_samples=4096, test_samples=300, epochs=3, warmup_epochs=0.5, batch_size=64,
                         save_dir=str(tmp_path / "run")), progress=False)
    report = evaluate.main(["--run", str(tmp_path / "run")])
    assert report["images"] == 300 and report["top1"] == pytest.approx(summary["best_test_acc"], abs=1e-6)
    _, test = load_fashion_mnist(download=False)
    paths = []
    for i in range(20):  # larger than 28 px, as a user's file would be: classify resizes
        paths.append(str(tmp_path / ("%d.png" % i)))
        Image.fromarray(test.images[i, :, :, 0]).resize((56, 56)).save(paths[-1])
    results = classify.main(["--run", str(tmp_path / "run"), "--top", "1", *paths])
    right = sum(r[0][0] == test.classes[test.labels[i]] for i, r in enumerate(results))
    assert right >= 10, (report["top1"], results[:3])  # names are Fashion-MNIST's; after 3 short epochs most are right


def test_a_network_trained_with_fused_bn_relu_runs_as_the_pair_for_inference(tmp_path):
    """oneDNN folds BN into the convolution and fuses the ReLU only from BatchNorm + Activation; its
    BatchNormReLU stays a separate kernel, which held back float32 (0.79-0.86x) and int8 (0.56-0.98x
    float32) inference of the fused published models. The Predictor builds the pair: the same
    weights, the same numbers, every convolution folded, and int8 quantizes them all."""
    import mxnet as mx
    import numpy as np

    from gluon_tricks import get_model
    from gluon_tricks.inference import Predictor
    if not mx.runtime.Features().is_enabled("MKLDNN"):
        pytest.skip("this MXNet build has no oneDNN")
    rng = np.random.default_rng(2)
    kwargs = {"channels": [8, 16, 32, 64], "fused_bn_relu": True}
    net = with_odd_bn(get_model("cifar_resnet9", classes=10, **kwargs), (1, 1, 28, 28), rng, tmp_path / "f.params")
    net.hybridize()
    found = []
    net.apply(lambda b: found.append(b) if isinstance(b, mx.gluon.nn.Conv2D) else None)
    convs = len(found)
    recipe = Recipe(model="cifar_resnet9", dataset="fashion-mnist", model_kwargs=kwargs)
    predictor = Predictor.from_model("cifar_resnet9", str(tmp_path / "f.params"), recipe=recipe)
    x = mx.nd.array(rng.standard_normal((4, 1, 28, 28)))
    np.testing.assert_allclose(predictor.net(x).asnumpy(), net(x).asnumpy(), rtol=1e-4, atol=1e-4)
    graph = predictor.net._cached_graph[1].tojson()
    assert "BatchNormWithReLU" not in graph and graph.count('"op": "_sg_mkldnn_conv"') == convs
    assert "BatchNormWithReLU" in net._cached_graph[1].tojson()  # the training graph still runs it fused
    nodes = json.loads(predictor.quantized(x).net._cached_graph[1].tojson())["nodes"]
    quantized = [n for n in nodes if n["op"] == "_sg_mkldnn_conv" and n["attrs"].get("quantized") == "true"]
    assert len(quantized) == convs and not any("BatchNorm" in n["op"] for n in nodes)


@needs_data
def test_a_network_gluoncv_builds_trains_evaluates_and_exports_through_the_scripts(tmp_path, capsys):
    from gluon_tricks.models import builder
    assert builder("darknet53") == builder("resnest14") == "gluoncv"
    quick = dict(train_samples=256, test_samples=64, epochs=1, warmup_epochs=0.5, batch_size=32)
    with pytest.raises(ValueError, match="resnest14 cannot take 1x28x28 images .*: .*Shape inconsistent"):
        fit(Recipe(model="resnest14", save_dir=str(tmp_path / "no"), **quick), progress=False)  # its stem is RGB only
    save = tmp_path / "run"
    summary = fit(Recipe(model="darknet53", save_dir=str(save), **quick), progress=False)
    report = evaluate.main(["--run", str(save)])
    assert report["top1"] == pytest.approx(summary["best_test_acc"], abs=1e-6) and report["images"] == 64
    # MXNet 1.9.1's quantized pooling checks GluonCV's global pooling against its nominal 7x7 kernel, which a
    # 28 px image has shrunk to 1x1: int8 is refused in one line, float32 goes on.
    with pytest.raises(SystemExit) as stop:
        evaluate.main(["--run", str(save), "--int8"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "int8 quantization cannot run this network" in err and "Traceback" not in err
    export.main(["--run", str(save), "--output", str(tmp_path / "exp"), "--no-onnx"])
    assert os.path.isfile(str(tmp_path / "exp-symbol.json")) and os.path.isfile(str(tmp_path / "exp-0000.params"))
