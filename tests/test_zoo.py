"""The model zoo as users meet it: get_model(name, pretrained=...), the manifest's facts, our own
models shipped in the repository, and the zoo command. Weights are made here and served from a
repository on 127.0.0.1 in GluonCV's layout, published through a test manifest."""
import hashlib
import json
import os
import shutil

import mxnet as mx
import numpy as np
import pytest
from conftest import ROOT, needs_data, zip_of

from gluon_tricks import get_model, list_models, zoo
from gluon_tricks.cli import zoo as zoo_command
from gluon_tricks.models import UnknownModel
from gluon_tricks.models import construct

CLASSES = ["c%d" % i for i in range(10)]
TINY_INPUTS = {"eval_set": "made in the test", "classes": 10, "class_names": CLASSES, "channels": 3,
               "input_size": 32, "crop_ratio": 1.0, "mean": [127.0, 127.0, 127.0], "std": [64.0, 64.0, 64.0]}
X = mx.nd.array(np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 32)))


def _weights(path, arch="cifar_resnet20_v1", seed=0):
    """A network's parameters written to ``path``; (sha1, its outputs on X)."""
    mx.random.seed(seed)
    net = construct(arch)
    net.initialize(mx.init.Xavier())
    out = net(X).asnumpy()
    net.save_parameters(str(path))
    return hashlib.sha1(open(path, "rb").read()).hexdigest(), out


def _entry(name, sha1, default=True, **extra):
    return dict(dict(name=name, tag=sha1[:8], sha1=sha1, default=default, architecture="cifar_resnet20_v1",
                     inputs="tiny", source="gluoncv"), **extra)


@pytest.fixture
def published(repo, tmp_path, monkeypatch):
    """``tiny_resnet20``: two versions of cifar_resnet20_v1 weights, served by ``repo``."""
    versions = {}
    for seed in (0, 1):
        path = tmp_path / ("w%d.params" % seed)
        sha1, out = _weights(path, seed=seed)
        stem = "tiny_resnet20-" + sha1[:8]
        repo.publish(stem, zip_of(stem + ".params", path.read_bytes()))
        versions[seed] = dict(sha1=sha1, out=out, path=path)
    zoo.add_manifest({"inputs": {"tiny": TINY_INPUTS}, "models": [
        _entry("tiny_resnet20", versions[0]["sha1"]), _entry("tiny_resnet20", versions[1]["sha1"], default=False)]})
    monkeypatch.setenv("MXNET_GLUON_REPO", repo.url)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "home"))
    yield versions
    zoo.remove_manifests()


# ----------------------------------------------------------------------------- the manifest's facts

def test_the_manifest_holds_gluoncvs_sha1s_and_every_name_it_publishes_in_our_families():
    from gluoncv.data.imagenet.classification import ImageNet1kAttr
    from gluoncv.model_zoo.model_store import _model_sha1
    gluoncv = [e for e in zoo.entries() if e.source == "gluoncv"]
    for e in gluoncv:
        if e.sha1:
            assert _model_sha1[e.name] == e.sha1 and e.default, e.name
        else:  # an older version: GluonCV publishes only its tag
            assert len(e.tag) == 8 and not e.default and _model_sha1[e.name][:8] != e.tag
    ours = set(list_models())
    assert {n for n in _model_sha1 if n in ours} == {e.name for e in gluoncv}
    assert zoo.imagenet_class_names() == list(ImageNet1kAttr().classes)


def test_every_entry_builds_its_architecture_and_names_have_one_default():
    for name in zoo.published_names():
        versions = zoo.versions(name)
        assert sum(e.default for e in versions) == 1 and versions[0].default
        for e in versions:
            assert e.sha1 is None or (len(e.sha1) == 40 and e.tag == e.sha1[:8])
            assert len(e.inputs.class_names) == e.inputs.classes and e.top1 is None or 0 < e.top1 < 100
            zoo.lookup(e.name)  # a registry name, or an unknown-model error


def test_published_inputs_agree_with_the_data_sets_they_name():
    from gluon_tricks.data import DATASETS, dataset_names
    dataset_names()
    named = [e for e in zoo.entries() if e.inputs.dataset]
    assert named
    for e in named:
        info = DATASETS[e.inputs.dataset]
        assert (e.inputs.mean, e.inputs.std, e.inputs.input_size, e.inputs.channels) == \
            (info.mean, info.std, info.size, info.channels)


# ----------------------------------------------------------------------------- get_model

def test_pretrained_true_loads_the_default_version_verified_with_its_classes_and_inputs(published, repo, tmp_path):
    net = get_model("tiny_resnet20", pretrained=True)
    np.testing.assert_allclose(net(X).asnumpy(), published[0]["out"], rtol=1e-5, atol=1e-5)
    assert net.classes == CLASSES and net.inputs.input_size == 32 and net.inputs.mean == (127.0,) * 3
    cached = tmp_path / "home" / "models" / ("tiny_resnet20-%s.params" % published[0]["sha1"][:8])
    assert hashlib.sha1(cached.read_bytes()).hexdigest() == published[0]["sha1"]
    get_model("tiny_resnet20", pretrained=True)
    assert sum(repo.hits.values()) == 1  # the second call used the cache
    assert "tiny_resnet20" in list_models("tiny*", pretrained=True) and "cifar_resnet20_v1b" not in \
        list_models(pretrained=True)


def test_a_tag_picks_its_version_and_an_unknown_tag_lists_the_versions(published, tmp_path):
    tag = published[1]["sha1"][:8]
    net = get_model("tiny_resnet20", pretrained=tag, root=str(tmp_path / "elsewhere"))
    np.testing.assert_allclose(net(X).asnumpy(), published[1]["out"], rtol=1e-5, atol=1e-5)
    assert os.path.isfile(tmp_path / "elsewhere" / ("tiny_resnet20-%s.params" % tag))
    with pytest.raises(zoo.ZooError, match="its versions: %s \\(default\\), %s" % (published[0]["sha1"][:8], tag)):
        get_model("tiny_resnet20", pretrained="0123abcd")


def test_a_file_path_loads_and_a_missing_one_is_named(published, tmp_path):
    net = get_model("cifar_resnet20_v1", pretrained=str(published[1]["path"]))
    np.testing.assert_allclose(net(X).asnumpy(), published[1]["out"], rtol=1e-5, atol=1e-5)
    assert net.classes is None  # a bare file says nothing about class names
    with pytest.raises(FileNotFoundError, match="missing.params"):
        get_model("cifar_resnet20_v1", pretrained=str(tmp_path / "missing.params"))


def test_other_classes_replace_only_the_classifier(published):
    net = get_model("tiny_resnet20", pretrained=True, classes=4)
    assert net(X).shape == (2, 4) and net.classes is None
    saved = mx.nd.load(str(published[0]["path"]))
    ours = {k: v.data() for k, v in net._collect_params_with_prefix().items()}
    assert set(saved) == set(ours)
    for k in saved:
        same = np.array_equal(saved[k].asnumpy(), ours[k].asnumpy()) if saved[k].shape == ours[k].shape else False
        assert same != k.startswith("fc."), k  # features kept, classifier new


def test_a_file_holding_another_networks_parameters_is_named_and_nothing_loaded(repo, tmp_path, monkeypatch):
    sha1, _ = _weights(tmp_path / "w56.params", arch="cifar_resnet56_v1")
    stem = "mislabelled-" + sha1[:8]
    repo.publish(stem, zip_of(stem + ".params", (tmp_path / "w56.params").read_bytes()))
    zoo.add_manifest({"inputs": {"tiny": TINY_INPUTS}, "models": [_entry("mislabelled", sha1)]})
    monkeypatch.setenv("MXNET_GLUON_REPO", repo.url)
    try:
        with pytest.raises(zoo.ZooError, match="does not hold this network's parameters"):
            get_model("mislabelled", pretrained=True, root=str(tmp_path / "cache"))
    finally:
        zoo.remove_manifests()


def test_unknown_names_and_names_without_weights_say_what_exists():
    with pytest.raises(zoo.ZooError, match="no published weights for 'resnet50_v1e'; the closest published: .*"
                                           "resnet50_v1d.*names have weights: gt-zoo list"):
        get_model("resnet50_v1e", pretrained=True)
    with pytest.raises(UnknownModel, match="did you mean: resnet50_v1d"):
        get_model("resnt50_v1d", pretrained=True)
    assert get_model("resnet50_v1e").fc._units == 1000  # without weights: the architecture, as before


def test_offline_mode_never_touches_the_network_but_shipped_models_still_load(published, repo, monkeypatch):
    monkeypatch.setenv("GLUON_TRICKS_OFFLINE", "1")
    with pytest.raises(zoo.ZooError, match="GLUON_TRICKS_OFFLINE=1: not downloading"):
        get_model("tiny_resnet20", pretrained=True)
    net = get_model("fashion_mnist_resnet20_v1b", pretrained=True)
    assert repo.hits == {} and net.classes[9] == "Ankle boot" and net(mx.nd.zeros((1, 1, 28, 28))).shape == (1, 10)


def test_our_models_come_from_their_folder_and_a_damaged_copy_says_how_to_restore_it(repo, tmp_path, monkeypatch):
    """This project's weights are on no mirror: a damaged or missing shipped copy is one line that says
    how to restore it, and no mirror is asked; a good copy put in the cache by hand is used."""
    folder = tmp_path / "model_zoo" / "ours_resnet20"
    folder.mkdir(parents=True)
    sha1, out = _weights(folder / "ours_resnet20.params")
    good = (folder / "ours_resnet20.params").read_bytes()
    stem = "ours_resnet20-" + sha1[:8]
    repo.publish(stem, zip_of(stem + ".params", good))  # were a mirror to have it, it must still not be asked
    zoo.add_manifest({"inputs": {"tiny": TINY_INPUTS}, "models": [_entry("ours_resnet20", sha1, source=str(folder))]})
    monkeypatch.setenv("MXNET_GLUON_REPO", repo.url)
    cache = tmp_path / "cache"
    try:
        np.testing.assert_allclose(get_model("ours_resnet20", True, root=str(cache))(X).asnumpy(), out, rtol=1e-5)
        (folder / "ours_resnet20.params").write_bytes(b"damaged")
        with pytest.raises(zoo.ZooError, match="has sha1 %s, not the published %s: the weights of ours_resnet20, "
                                               "which come with gluon_tricks and are on no mirror, are damaged; "
                                               "restore them by reinstalling gluon_tricks, or from a source "
                                               "checkout: git checkout -- " % (hashlib.sha1(b"damaged").hexdigest(), sha1)):
            get_model("ours_resnet20", True, root=str(cache))
        (folder / "ours_resnet20.params").unlink()
        with pytest.raises(zoo.ZooError, match="ours_resnet20.params is missing: the weights of ours_resnet20"):
            get_model("ours_resnet20", True, root=str(cache))
        assert repo.hits == {}
        cache.mkdir()
        (cache / (stem + ".params")).write_bytes(good)  # restored by hand into the cache
        np.testing.assert_allclose(get_model("ours_resnet20", True, root=str(cache))(X).asnumpy(), out, rtol=1e-5)
        assert repo.hits == {}
    finally:
        zoo.remove_manifests()


# ----------------------------------------------------------------------------- the zoo command

def test_the_zoo_command_lists_downloads_verifies_and_purges(published, repo, tmp_path, capsys):
    root = str(tmp_path / "cache")
    tag0, tag1 = published[0]["sha1"][:8], published[1]["sha1"][:8]
    zoo_command.main(["--root", root, "download", "tiny_resnet20", "tiny_resnet20:" + tag1])
    assert sorted(f for f in os.listdir(root) if f.endswith(".params")) == sorted(
        ["tiny_resnet20-%s.params" % tag0, "tiny_resnet20-%s.params" % tag1])
    capsys.readouterr()
    zoo_command.main(["--root", root, "list", "tiny*"])
    lines = capsys.readouterr().out.splitlines()[1:]
    assert len(lines) == 2 and all(line.endswith("cached") for line in lines) and "(default)" in lines[0]
    listed = zoo_command.main(["--root", root, "list", "fashion*", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(listed) >= 2 and all(r["where"] == "installed" for r in rows)  # our models come with the package
    damaged = os.path.join(root, "tiny_resnet20-%s.params" % tag1)
    open(damaged, "ab").write(b"x")
    with pytest.raises(SystemExit) as stop:
        zoo_command.main(["--root", root, "verify"])
    out = capsys.readouterr().out
    assert stop.value.code == 1 and "BAD  %s" % damaged in out and "1 verified, 1 wrong" in out
    open(os.path.join(root, "x.zip.part-1"), "w").write("left by a killed download")
    zoo_command.main(["--root", root, "purge"])
    assert [f for f in os.listdir(root) if not f.endswith(".lock")] == [] and "removed 3 files" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["download"], "name what to download"),
    (["download", "resnet50_v1e"], "no published weights for 'resnet50_v1e'"),
    (["download", "resnet50_v1d:0123abcd"], "its versions: 117a384e \\(default\\), 00319ddc"),
    (["list", "nothing*"], "no published name matches"),
])
def test_the_zoo_command_refuses_bad_input_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        zoo_command.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and __import__("re").search(message, err[0]), err


def test_the_model_zoo_readme_tables_are_what_the_manifest_says(tmp_path):
    copy = tmp_path / "README.md"
    shutil.copy(os.path.join(ROOT, "model_zoo", "README.md"), copy)
    from gluon_tricks.zoo import table
    assert not table.write(str(copy)), "model_zoo/README.md is stale: python -m gluon_tricks.zoo table --write " \
                                       "model_zoo/README.md"


# ----------------------------------------------------------------------------- the scripts and training

def test_classify_uses_the_published_class_names_and_inputs(published, tmp_path, capsys):
    import cv2
    from gluon_tricks.cli import classify
    image = str(tmp_path / "a.png")
    cv2.imwrite(image, np.random.default_rng(0).integers(0, 255, (50, 40, 3), dtype=np.uint8))
    (best,) = classify.main(["--model", "tiny_resnet20", "--use-pretrained", "--top", "3", image])
    assert len(best) == 3 and all(name in CLASSES for name, _ in best)
    with pytest.raises(SystemExit) as stop:
        classify.main(["--model", "tiny_resnet20", "--params", "0123abcd", image])
    assert stop.value.code == 2 and "is not a weights file, a published name or a version tag" in capsys.readouterr().err


@needs_data
def test_a_published_teacher_and_published_starting_weights_come_from_the_zoo(tmp_path):
    from gluon_tricks.train import Recipe, fit
    quick = dict(dataset="fashion-mnist", train_samples=256, test_samples=500, batch_size=64, epochs=1,
                 warmup_epochs=0, log_interval=5)
    # Fine-tuning from the shipped model at a tiny learning rate keeps its accuracy: the weights loaded.
    tuned = fit(Recipe(**quick, pretrained="fashion_mnist_resnet20_v1b", lr=1e-5, save_dir=str(tmp_path / "a")),
                progress=False)
    assert tuned["final_test_acc"] > 0.9
    # A published teacher needs no --teacher-params.
    student = fit(Recipe(**quick, teacher="fashion_mnist_resnet20_v1b", save_dir=str(tmp_path / "b")), progress=False)
    assert 0 <= student["final_test_acc"] <= 1
    with pytest.raises(zoo.ZooError, match="is a cifar_resnet20_v1b, not a cifar_resnet56_v1"):
        fit(Recipe(**dict(quick, model="cifar_resnet56_v1"), pretrained="fashion_mnist_resnet20_v1b",
                   save_dir=str(tmp_path / "c")), progress=False)


@needs_data
def test_published_names_joined_by_commas_teach_as_one_ensemble(tmp_path, monkeypatch):
    from gluon_tricks.models import UnknownModel
    from gluon_tricks.models.ensemble import Ensemble
    from gluon_tricks.train import Recipe, fit, loop
    quick = dict(dataset="fashion-mnist", train_samples=256, test_samples=256, batch_size=64, epochs=1,
                 warmup_epochs=0, log_interval=5)
    built = []

    class Spy(Ensemble):
        def __init__(self, members, **kwargs):
            super().__init__(members, **kwargs)
            built.append(members)

    monkeypatch.setattr(loop, "Ensemble", Spy)
    pair = "fashion_mnist_resnet9_w16, fashion_mnist_resnet9_w16_fastest"  # one architecture: one set of names
    fit(Recipe(**quick, teacher=pair, save_dir=str(tmp_path / "a")), progress=False)
    (members,) = built
    # Both members carry their published weights: each alone classifies the test images well.
    images, labels = next(loop.data.build_loaders(Recipe(**quick), 0, 1)[1].epoch())
    for member in members:
        assert (member(images).argmax(axis=1) == labels).mean().asscalar() > 0.8
    with pytest.raises(ValueError, match="an ensemble teacher takes published names only"):
        Recipe(**quick, teacher=pair, teacher_params="t.params").validate()
    with pytest.raises(UnknownModel, match="no_such_model"):  # an unknown member stops the run before anything is written
        fit(Recipe(**quick, teacher="fashion_mnist_resnet20_v1b,no_such_model", save_dir=str(tmp_path / "b")),
            progress=False)
    assert not (tmp_path / "b").exists()


@needs_data
def test_publish_turns_a_finished_run_into_a_zoo_entry_with_measured_figures(tmp_path, monkeypatch):
    from gluon_tricks.train import Recipe, fit
    from gluon_tricks.train.report import read_log
    from gluon_tricks.zoo import publish
    from gluon_tricks.train import loop
    from gluon_tricks.zoo.catalog import HERE, _read
    monkeypatch.setattr(loop, "_STARTED", [0])  # the first run of its process: the log's clock is its own
    run = tmp_path / "run"
    summary = fit(Recipe(train_samples=640, test_samples=256, epochs=1, warmup_epochs=0.5, batch_size=64,
                         model_kwargs={"down": "avg"}, save_dir=str(run)), progress=False)
    manifest = tmp_path / "manifest.json"
    shutil.copy(os.path.join(HERE, "manifest.json"), manifest)
    before = json.load(open(manifest))["models"]
    entry = publish.publish(str(run), "tiny_fm", "python train.py", repository=str(tmp_path), manifest=str(manifest))
    folder = tmp_path / "model_zoo" / "tiny_fm"
    assert zoo.store.sha1_of(str(folder / "tiny_fm.params")) == entry["sha1"] and entry["tag"] == entry["sha1"][:8]
    assert {"recipe.json", "log.jsonl", "metrics.json", "classes.json"} <= set(os.listdir(folder))
    metrics = json.load(open(folder / "metrics.json"))
    # Measured on all 10,000 test images, not copied from the run (which tested on 256).
    assert metrics["test_images"] == 10000 and metrics["top1"] != pytest.approx(summary["final_test_acc"], abs=1e-9)
    assert entry["top1"] == round(100 * metrics["top1"], 2) and 0 <= metrics["tta_flip_top1"] <= 1
    assert entry["settings"] == {"down": "avg"} and entry["inputs"] == "fashion-mnist"
    logged = [r for r in read_log(summary["log"]) if r["kind"] == "epoch"][-1]  # the run's own clock
    assert metrics["wall_time_s"] == round(logged["wall_time"], 1)
    assert all(round(100 * logged["test_acc"]) >= int(k[:-1]) and v == metrics["wall_time_s"]
               for k, v in metrics["wall_time_to_logged_top1"].items())
    after = json.load(open(manifest))["models"]
    assert [m for m in after if m["name"] != "tiny_fm"] == before  # nothing else touched
    assert [e.name for e in _read(str(manifest))].count("tiny_fm") == 1  # the catalog reads it
    # Had the process trained another run first, its clock would have started before this run's: no wall times.
    records = [json.loads(line) for line in open(run / "log.jsonl")]
    assert records[0]["kind"] == "start" and records[0]["earlier_runs_in_process"] == 0
    records[0]["earlier_runs_in_process"] = 1
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    measured = {k: v for k, v in metrics.items() if not k.startswith("wall_time")}
    monkeypatch.setattr(publish, "measure", lambda run_dir, params: dict(measured))  # measured once is enough
    publish.publish(str(run), "tiny_fm", "python train.py", repository=str(tmp_path), manifest=str(manifest))
    assert len(json.load(open(manifest))["models"]) == len(after)  # publishing again replaces
    assert not any(k.startswith("wall_time") for k in json.load(open(folder / "metrics.json")))


def test_publish_refuses_an_unfinished_run(tmp_path):
    from gluon_tricks.train import Recipe
    from gluon_tricks.zoo import publish
    Recipe(epochs=3, save_dir=str(tmp_path)).save(str(tmp_path / "recipe.json"))
    (tmp_path / "log.jsonl").write_text(json.dumps({"kind": "start"}) + "\n")
    with pytest.raises(ValueError, match="has not finished training"):
        publish.publish(str(tmp_path), "x", "cmd", repository=str(tmp_path), manifest=str(tmp_path / "m.json"))


@needs_data
def test_a_grayscale_model_fine_tunes_on_rgb_images_starting_from_the_same_features(capsys):
    from gluon_tricks.zoo import ready_network
    gray = get_model("fashion_mnist_resnet20_v1b", pretrained=True)
    rgb = ready_network("fashion_mnist_resnet20_v1b", 4, mx.nd.zeros((1, 3, 28, 28)), [mx.cpu()], params=True)
    assert "conv1.weight adapted from 1 to 3 input channels" in capsys.readouterr().err
    x = mx.nd.array(np.random.default_rng(0).standard_normal((4, 1, 28, 28)))
    features = lambda net, images: net.flat(net.avgpool(net.layer3(net.layer2(net.layer1(  # noqa: E731
        net.relu(net.bn1(net.conv1(images))))))))
    np.testing.assert_allclose(features(rgb, x.repeat(3, axis=1)).asnumpy(), features(gray, x).asnumpy(),
                               rtol=1e-4, atol=1e-4)  # a gray image as RGB: the features it had
    assert rgb.fc.weight.shape == (4, 64)  # and a new classifier for the new classes


def test_the_publish_command_line_keeps_the_subcommand_and_the_reproducing_command_apart():
    args = zoo_command.parser().parse_args(["publish", "runs/x", "name_x", "--command", "python train.py --a 1"])
    assert (args.command, args.reproduce, args.run, args.name) == ("publish", "python train.py --a 1", "runs/x", "name_x")
