"""fit() on ImageNet-style data (RecordIO files and image folders), and fine-tuning from weights."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_tricks.data import RecordFileError
from gluon_tricks.train import Recipe, fit
from gluon_tricks import data, zoo

QUICK = dict(dataset="images", model="cifar_resnet20_v1b", input_size=32, batch_size=32, epochs=4,
             warmup_epochs=0.5, lr=0.2, log_interval=4, jitter=0.2, lighting=0.0)


def _epochs(save_dir):
    with open(os.path.join(save_dir, "log.jsonl")) as f:
        return [r for r in map(json.loads, f) if r["kind"] == "epoch"]


@pytest.mark.parametrize("source, backend", [("rec", "imagerecorditer"), ("rec", "threads"), ("folder", None)])
def test_training_on_real_jpegs_lowers_loss_and_beats_chance(fashion_jpegs, tmp_path, source, backend):
    where = (dict(rec_train=str(fashion_jpegs / "train_rec.rec"), rec_val=str(fashion_jpegs / "val_rec.rec"),
                  data_backend=backend) if source == "rec" else dict(data_dir=str(fashion_jpegs)))
    summary = fit(Recipe(save_dir=str(tmp_path), **QUICK, **where), progress=False)
    epochs = _epochs(tmp_path)
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert summary["final_test_acc"] > 0.6  # 4 classes: chance is 0.25
    assert len(epochs) == 4 and epochs[0]["img_per_s"] > 0


def test_class_names_come_from_the_packed_classes_file(fashion_jpegs):
    _, _, names = data.build_loaders(Recipe(rec_train=str(fashion_jpegs / "train_rec.rec"),
                                        rec_val=str(fashion_jpegs / "val_rec.rec"), **QUICK))
    assert names == ["bag", "sneaker", "trouser", "tshirt"]  # sorted folder names


def test_labels_beyond_num_classes_stop_before_training(fashion_jpegs, tmp_path):
    with pytest.raises(RecordFileError, match="label 2, outside 0..1"):
        fit(Recipe(save_dir=str(tmp_path), num_classes=2, rec_train=str(fashion_jpegs / "train_rec.rec"),
                   rec_val=str(fashion_jpegs / "val_rec.rec"), **QUICK), progress=False)


def test_image_data_without_a_source_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="needs --rec-train and --rec-val, or --data-dir"):
        fit(Recipe(save_dir=str(tmp_path), **QUICK), progress=False)
    with pytest.raises(ValueError, match="--rec-train needs --rec-val"):
        Recipe(rec_train="a.rec", **QUICK).validate()


def _net(classes, sample, params=None, finetune=True):
    return zoo.ready_network("cifar_resnet20_v1b", classes, sample, [mx.cpu()], params=params, finetune=finetune)


def test_fine_tuning_keeps_the_features_and_replaces_a_classifier_of_another_size(tmp_path):
    sample = mx.nd.zeros((1, 3, 32, 32))
    mx.random.seed(1)
    source = _net(10, sample)
    path = str(tmp_path / "ten.params")
    source.save_parameters(path)
    assert zoo.classifier_size(path) == 10

    tuned = _net(4, sample, params=path)
    mine, theirs = tuned._collect_params_with_prefix(), source._collect_params_with_prefix()
    assert mine["fc.weight"].shape == (4, 64)
    features = [k for k in mine if not k.startswith("fc.")]
    assert len(features) > 50
    for k in features:
        np.testing.assert_array_equal(mine[k].data().asnumpy(), theirs[k].data().asnumpy())
    assert tuned(sample).shape == (1, 4)

    same = _net(10, sample, params=path)  # same classes: everything loads, classifier included
    np.testing.assert_array_equal(same.fc.weight.data().asnumpy(), source.fc.weight.data().asnumpy())
    with pytest.raises(ValueError, match="classifies 10 classes, the data has 4"):
        _net(4, sample, params=path, finetune=False)  # a teacher must fit the data


def test_pretrained_weights_that_cannot_be_had_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GLUON_TRICKS_OFFLINE", "1")  # (the downloads themselves: test_zoo_store.py)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path))
    with pytest.raises(zoo.ZooError, match=r"not downloading .*resnet50_v1d-117a384e\.zip"):
        zoo.lookup("resnet50_v1d", "gluoncv")
    with pytest.raises(zoo.ZooError, match="no published weights for 'resnet50_v1e'; the closest published: resnet50_v1.*gt-zoo list"):
        zoo.lookup("resnet50_v1e", "gluoncv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zoo.lookup("resnet50_v1d", str(tmp_path / "missing.params"))


def test_fit_fine_tunes_weights_of_another_class_count(fashion_jpegs, tmp_path):
    source = _net(10, mx.nd.zeros((1, 3, 32, 32)))
    source.save_parameters(str(tmp_path / "ten.params"))
    summary = fit(Recipe(save_dir=str(tmp_path / "run"), pretrained=str(tmp_path / "ten.params"),
                         **dict(QUICK, epochs=1), data_dir=str(fashion_jpegs)), progress=False)
    saved = mx.nd.load(str(tmp_path / "run" / "best.params"))
    assert saved["fc.weight"].shape == (4, 64) and summary["iterations"] == 384 // 32
    start = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")][0]
    assert start["recipe"]["pretrained"] == str(tmp_path / "ten.params")


@pytest.mark.parametrize("backend", ["threads", "imagerecorditer"])
def test_cutout_and_random_erasing_act_on_image_batches(fashion_jpegs, backend):
    # They were silently ignored with dataset: images; now they are batch transforms on any source.
    where = dict(QUICK, rec_train=str(fashion_jpegs / "train_rec.rec"), rec_val=str(fashion_jpegs / "val_rec.rec"),
                 data_backend=backend, jitter=0.0, lighting=0.0)
    plain = next(data.build_loaders(Recipe(**where))[0].epoch(0))[0].asnumpy()
    cut = next(data.build_loaders(Recipe(**where, cutout=12))[0].epoch(0))[0].asnumpy()
    changed = plain != cut
    if backend == "threads":  # the same images underneath: only the squares differ, and they are 0
        assert changed.any() and np.all(cut[changed] == 0)
        per_image = changed.any(axis=1).reshape(len(cut), -1).sum(axis=1)
        assert per_image.max() <= 12 * 12
    else:  # ImageRecordIter draws its own augmentation: count the zeroed squares instead
        # (a square centred anywhere keeps at least its 6x6 quarter inside the image)
        assert ((cut == 0).all(axis=1).reshape(len(cut), -1).sum(axis=1) >= 6 * 6).all()
    if backend == "threads":
        erased = next(data.build_loaders(Recipe(**where, random_erasing=1.0))[0].epoch(0))[0].asnumpy()
        assert (erased != plain).reshape(len(plain), -1).any(axis=1).all()  # every image got its box


def test_old_recipes_naming_the_dataloader_backend_still_load():
    assert Recipe.from_dict({"data_backend": "dataloader"}).data_backend == "threads"
    with pytest.raises(ValueError, match="unknown data backend"):
        data.pipeline_class("x.rec", "pytorch")
