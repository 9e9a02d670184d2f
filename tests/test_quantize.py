"""int8 inference through MXNet's quantization: accuracy kept on real data, files that reload,
calibration that sees every class, and the ways it is refused."""
import json

import mxnet as mx
import numpy as np
import pytest

from conftest import needs_data

from gluon_tricks.cli import evaluate, export
from gluon_tricks.data import ArrayLoader, calibration_loader, dataset_info
from gluon_tricks.inference import Predictor
from gluon_tricks.quantize import QuantizationUnsupported, calibration_batches, check_int8, quantize_net
from gluon_tricks.train import Recipe, accuracy_report

SHIPPED = "fashion_mnist_resnet20_v1b"


@pytest.fixture(scope="module")
def fm():
    """The shipped Fashion-MNIST model, 1,000 test images, 256 calibration images."""
    predictor = Predictor.from_model(SHIPPED, True)
    info = dataset_info("fashion-mnist")
    test = info.load(None)[1].subset(1000, seed=1)
    images = calibration_batches(calibration_loader(predictor.recipe, 256), 256)
    return predictor, ArrayLoader(test, 100, info.mean, info.std), images


@needs_data
def test_int8_keeps_the_accuracy_of_the_shipped_model_and_really_runs_int8(fm, tmp_path):
    predictor, loader, images = fm
    int8 = predictor.quantized(images)
    fp32_acc = accuracy_report(predictor.net, loader, [mx.cpu()])["top1"]
    int8_acc = accuracy_report(int8.net, loader, [mx.cpu()])["top1"]
    assert abs(int8_acc - fp32_acc) <= 0.005, (fp32_acc, int8_acc)
    assert int8_acc > 0.9
    from gluon_tricks.export import export
    symbol = export(int8, str(tmp_path / "q"), onnx=False)["symbol"]
    nodes = json.load(open(symbol))["nodes"]
    convs = [n for n in nodes if n["op"] == "_sg_mkldnn_conv"]
    # Every convolution (19, and 2 projection shortcuts) runs as a quantized oneDNN kernel with
    # BN and ReLU fused in, calibrated (a fixed output range), and the input is quantized once.
    assert len(convs) == 21 and all(n["attrs"]["quantized"] == "true" and "max_calib_range" in n["attrs"]
                                    for n in convs)
    assert sum(n["op"] == "_contrib_quantize_v2" for n in nodes) == 1


@needs_data
def test_calibration_matters_a_network_calibrated_on_far_too_small_inputs_loses_accuracy(fm):
    predictor, loader, images = fm
    # Thresholds from inputs 100x smaller than real ones clip every real activation: the
    # calibration images are what sets the int8 ranges.
    bad = predictor.quantized(images * 0.01)
    good = predictor.quantized(images)
    bad_acc = accuracy_report(bad.net, loader, [mx.cpu()])["top1"]
    good_acc = accuracy_report(good.net, loader, [mx.cpu()])["top1"]
    assert bad_acc < good_acc - 0.1, (bad_acc, good_acc)


@needs_data
def test_int8_export_reloads_to_the_same_outputs_and_evaluates_as_exported(fm, tmp_path, capsys):
    paths = export.main(["--model", SHIPPED, "--use-pretrained", "--int8", "--calib-images", "200",
                         "--output", str(tmp_path / "fm-int8"), "--check"])
    assert paths["reload_difference"] == 0 and paths["agreement_images"] == 200 and paths["agreement"] > 0.97
    assert "onnx" not in paths
    meta = json.load(open(paths["meta"]))
    assert meta["dtype"] == "int8" and meta["inputs"]["dataset"] == "fashion-mnist" and meta["classes"][0] == "T-shirt/top"
    reloaded = Predictor.from_exported(str(tmp_path / "fm-int8"))
    assert reloaded.dtype == "int8" and reloaded.classes == meta["classes"]
    report = evaluate.main(["--exported", str(tmp_path / "fm-int8")])  # its own test set, from the JSON
    assert report["dtype"] == "int8" and report["images"] == 10000 and report["top1"] > 0.93
    assert "int8: top-1" in capsys.readouterr().out


@needs_data
def test_evaluate_reports_the_int8_change_against_float32(tmp_path, capsys):
    report = evaluate.main(["--model", SHIPPED, "--use-pretrained", "--dataset", "fashion-mnist", "--calib-images",
                            "128", "--int8", "--json", str(tmp_path / "r.json")])
    assert report["top1"] == pytest.approx(0.9419, abs=1e-4)  # the published float32 figure
    assert abs(report["int8"]["top1"] - report["top1"]) < 0.005
    assert report["int8"]["calibration"] == {"images": 128, "mode": "naive", "data": None}
    out = capsys.readouterr().out
    assert "int8 - float32: top-1" in out and "points" in out
    assert json.load(open(tmp_path / "r.json"))["int8"]["top1"] == report["int8"]["top1"]


def test_an_exported_float32_network_evaluates_like_the_original(fashion_jpegs, tmp_path):
    from gluon_tricks import get_model
    net = get_model("cifar_resnet20_v1d", classes=4)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 32, 32)))
    net.save_parameters(str(tmp_path / "r.params"))
    common = ["--rec-val", str(fashion_jpegs / "val_rec.rec"), "--batch-size", "16"]
    original = evaluate.main(["--model", "cifar_resnet20_v1d", "--params", str(tmp_path / "r.params"),
                              "--input-size", "32", *common])
    export.main(["--model", "cifar_resnet20_v1d", "--params", str(tmp_path / "r.params"), "--input-size", "32",
                 "--no-onnx", "--output", str(tmp_path / "e")])
    exported = evaluate.main(["--exported", str(tmp_path / "e"), *common])
    assert exported["dtype"] == "float32" and exported["loss"] == pytest.approx(original["loss"], rel=1e-5)


def test_calibration_from_a_class_sorted_rec_sees_every_class(fashion_jpegs):
    recipe = Recipe(dataset="images", input_size=32, batch_size=16, rec_train=str(fashion_jpegs / "train_rec.rec"),
                    rec_val=str(fashion_jpegs / "val_rec.rec"))
    loader = calibration_loader(recipe, 40)
    labels = np.concatenate([y.asnumpy() for _, y in loader.epoch()])
    assert len(labels) == 40 and len(set(labels)) == 4  # the first 40 records would all be one class
    again = np.concatenate([y.asnumpy() for _, y in calibration_loader(recipe, 40).epoch()])
    np.testing.assert_array_equal(labels, again)  # seeded: the same images each time
    x = calibration_batches(loader, 25)
    assert x.shape == (25, 3, 32, 32) and abs(float(x.mean().asscalar())) < 3  # normalised, not 0-255
    folder = calibration_loader(recipe, 12, str(fashion_jpegs / "train"))
    assert sum(len(y) for _, y in folder.epoch()) == 12


@needs_data
def test_small_set_calibration_images_are_the_validation_transform_of_training_images():
    recipe = Recipe(dataset="fashion-mnist", seed=3)
    info = dataset_info("fashion-mnist")
    x = calibration_batches(calibration_loader(recipe, 50), 50).asnumpy()
    train = info.load(None)[0].subset(50, seed=3)
    expected = (train.images.transpose(0, 3, 1, 2).astype(np.float32) - info.mean[0]) / info.std[0]
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-6)  # no crop, no flip, no erasing


def test_int8_is_refused_on_a_gpu_and_explained_on_a_cpu_without_vnni():
    with pytest.raises(QuantizationUnsupported, match="CPU only"):
        check_int8(mx.gpu(0), flags={"avx512_vnni"})
    assert "not expected to beat float32" in check_int8(mx.cpu(), flags={"avx2", "fma"})
    assert check_int8(mx.cpu(), flags={"avx2", "avx_vnni"}) is None
    assert check_int8(mx.cpu(), flags={"amx_int8"}) is None


def test_quantize_net_refuses_bad_calibration():
    from gluon_tricks import get_model
    net = get_model("cifar_resnet20_v1b", classes=10)
    net.initialize()
    net.hybridize()
    with pytest.raises(ValueError, match="needs calibration images"):
        quantize_net(net, (1, 28, 28), None, mode="naive")
    with pytest.raises(ValueError, match="calibration images are"):
        quantize_net(net, (1, 28, 28), mx.nd.zeros((4, 3, 32, 32)))
    with pytest.raises(ValueError, match="choose one of"):
        quantize_net(net, (1, 28, 28), mx.nd.zeros((4, 1, 28, 28)), mode="minmax")
    uncalibrated = quantize_net(net, (1, 28, 28), None, mode="none")  # thresholds at run time
    x = mx.nd.random.uniform(shape=(8, 1, 28, 28))
    assert uncalibrated(x).shape == (8, 10)


@pytest.mark.parametrize("argv, reason", [
    (["--calib-data", "/nowhere/train.rec"], "not a file, a folder or a data set name"),
    (["--calib-images", "0"], "at least one image"),
    (["--exported", "/nowhere/net"], "/nowhere/net.json is missing"),
])
def test_bad_int8_input_stops_with_one_line(argv, reason, capsys, monkeypatch):
    import gluon_tricks.quantize
    monkeypatch.setattr(gluon_tricks.quantize, "cpu_flags", lambda: {"avx2"})  # a CPU whose int8 gets a note
    base = ["--dataset", "fashion-mnist", "--int8"]
    if "--exported" not in argv:
        base += ["--model", SHIPPED, "--use-pretrained"]
    with pytest.raises(SystemExit) as exit_:
        evaluate.main(base + argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and reason in err and len(err.strip().splitlines()) == 1, err


def test_a_network_mxnets_int8_cannot_run_is_refused_in_one_line():
    # GluonCV's MobileNetV3 multiplies by its hard-sigmoid gates: MXNet 1.9.1 quantizes that product
    # from uint8 inputs, which its kernel does not take, and fails deep inside oneDNN.
    from gluon_tricks import get_model
    net = get_model("mobilenetv3_small", classes=10)
    net.initialize()
    net.hybridize()
    with pytest.raises(QuantizationUnsupported, match="cannot run this network .*data type do not match"):
        quantize_net(net, (3, 32, 32), mx.nd.random.uniform(shape=(4, 3, 32, 32)))
