"""scripts/benchmark.py and gluon_tricks.benchmark: the counts are right and the report is complete."""
import json
import os

import pytest
from mxnet.gluon import nn

from gluon_tricks import benchmark, get_model
from gluon_tricks.cli import benchmark as script



def test_complexity_matches_a_hand_count_and_resnet50s_published_figures():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1, in_channels=2), nn.Flatten(), nn.Dense(5, in_units=144))
    net.initialize()
    params, macs = benchmark.complexity(net, (2, 6, 6))
    assert params == (4 * 2 * 9 + 4) + (144 * 5 + 5)
    assert macs == 4 * 2 * 9 * 36 + 144 * 5
    resnet = get_model("resnet50_v1b")
    resnet.initialize()
    params, macs = benchmark.complexity(resnet, (3, 224, 224))
    assert params == 25557032  # torchvision/GluonCV ResNet-50: 25.56M
    assert macs / 1e9 == pytest.approx(4.09, abs=0.01)  # "4.1 GFLOPs" in He et al.


def test_training_flop_is_three_passes_of_each_epochs_multiply_adds_at_its_size():
    from gluon_tricks.models.complexity import training_flop
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1, in_channels=2), nn.GlobalAvgPool2D(), nn.Dense(5, in_units=4))
    net.initialize()
    per_image = {s: 4 * 2 * 9 * s * s + 4 * 5 for s in (6, 8)}  # the conv at every position, then the classifier
    assert training_flop(net, 2, [6, 6, 8], 100) == 6 * 100 * (2 * per_image[6] + per_image[8])
    assert training_flop(net, 2, [], 100) == 0


def test_without_ops_leaves_exactly_the_other_operators_on_the_same_weights():
    import mxnet as mx
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1, in_channels=2), nn.BatchNorm(in_channels=4), nn.Activation("relu"),
            nn.Conv2D(3, 1, in_channels=4), nn.BatchNormReLU(in_channels=3), nn.Flatten(), nn.Dense(5, in_units=108))
    net.initialize(mx.init.Uniform(1.0))
    for p in net.collect_params(".*gamma|.*beta|.*running.*").values():  # make BN visible in the output
        p.set_data(mx.nd.random.uniform(0.5, 2, p.shape))
    net.hybridize()
    x = mx.nd.random.normal(shape=(3, 2, 6, 6))
    net(x)
    conv1, _, _, conv2, _, flat, dense = net._children.values()
    convs_only = dense(flat(conv2(conv1(x))))
    relu_kept = dense(flat(conv2(mx.nd.relu(conv1(x)))))
    stripped = benchmark.without_ops(net, ("bn", "relu"))
    assert mx.nd.abs(stripped(x) - convs_only).max().asscalar() < 1e-4
    assert mx.nd.abs(benchmark.without_ops(net, ("bn",))(x) - relu_kept).max().asscalar() < 1e-4
    assert mx.nd.abs(net(x) - convs_only).max().asscalar() > 1e-2  # the removed operators did something


def test_speed_report_has_percentiles_for_every_batch_size(tmp_path, capsys):
    report = script.main(["--model", "cifar_resnet20_v1b", "--batch-sizes", "1,4", "--prof", "4", "--warmup", "1",
                          "--classes", "10", "--json", str(tmp_path / "r.json")])
    rows = report["rows"]
    assert [r["batch"] for r in rows] == [1, 4]
    for r in rows:
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert r["img_per_s"] > 0 and r["train_img_per_s"] > 0 and r["iters"] == 4
    assert json.load(open(tmp_path / "r.json"))["machine"]["cores"] == os.cpu_count()
    assert "| 4 |" in capsys.readouterr().out


def test_compare_table_lists_matching_models_with_published_accuracy(capsys):
    rows = script.main(["--compare", "cifar_resnet*_v1d", "--batch-sizes", "4", "--prof", "1"])["rows"]
    assert [r["model"] for r in rows] == ["cifar_resnet20_v1d", "cifar_resnet56_v1d", "cifar_resnet110_v1d"]
    assert rows[0]["params_m"] < rows[1]["params_m"] < rows[2]["params_m"] and all(r["fwd_bwd_ms"] > 0 for r in rows)
    assert all(r["published_top1"] is None for r in rows)  # no ImageNet weights for CIFAR networks
    assert benchmark.published_top1("resnet50_v1d") == 79.15  # the default version's, from the zoo's manifest
    assert "| cifar_resnet20_v1d |" in capsys.readouterr().out


@pytest.mark.parametrize("argv, reason", [
    (["--dtype", "float16"], "float16 needs a GPU"),
    (["--compare", "lenet*"], "no registry model matches"),
    (["--batch-sizes", "0"], "must be positive"),
])
def test_bad_input_stops_with_one_line(argv, reason, capsys):
    with pytest.raises(SystemExit) as exit_:
        script.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and reason in err and len(err.strip().splitlines()) == 1
