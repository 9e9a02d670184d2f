"""RecordIO packing, the ImageNet-style pipelines and what they do with bad data."""
import glob
import hashlib
import json
import math
import os
import subprocess
import sys
import warnings

import cv2
import mxnet as mx
import numpy as np
import pytest
from PIL import Image
from conftest import PLAIN_MXNET

from gluon_tricks.data.augment import (Augment, jitter_image, lighting_shift, normalise_into, random_resized_crop_box,
                                       transform_image)
from gluon_tricks.data.backends import RecordPipeline, SyntheticPipeline, ThreadedPipeline
from gluon_tricks.data.recordio import RecordFileError, pack, read_lst, scan_records, write_lst

SMALL = Augment(size=32)


def _image(rng, h=48, w=64):
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """root/<class>/<image>: 3 classes x 6 JPEGs, plus a grayscale JPEG, a CMYK JPEG, a PNG with
    alpha and a file that is not an image at all."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c in ("zebra", "ant", "moth"):
        os.makedirs(root / c)
        for i in range(6):
            Image.fromarray(_image(rng, 40 + i, 60)).save(root / c / ("%d.jpg" % i))
    Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(root / "ant" / "gray.jpg")
    Image.fromarray(_image(rng)).convert("CMYK").save(root / "moth" / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 255, (40, 50, 4), dtype=np.uint8), "RGBA").save(root / "zebra" / "alpha.png")
    (root / "zebra" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


@pytest.fixture(scope="module")
def packed(folder, tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("rec") / "train")
    summary = pack(str(folder), prefix, resize=36, workers=2, progress=False)
    return prefix, summary


def _sha1(path):
    return hashlib.sha1(open(path, "rb").read()).hexdigest()


# ----------------------------------------------------------------------------- packing

def test_pack_converts_modes_skips_unreadable_and_maps_sorted_classes(packed):
    prefix, summary = packed
    assert summary["classes"] == ["ant", "moth", "zebra"]
    assert summary["written"] == 21 and [s[0] for s in summary["skipped"]] == ["zebra/broken.jpg"]
    assert json.load(open(prefix + ".classes.json"))["classes"] == ["ant", "moth", "zebra"]
    entries = read_lst(prefix + ".lst")
    assert {rel.split("/")[0]: label for _, label, rel in entries} == {"ant": 0, "moth": 1, "zebra": 2}
    reader = mx.recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "r")
    for index, label, rel in entries:
        header, img = mx.recordio.unpack_img(reader.read_idx(index))
        assert header.label == label and header.id == index
        assert img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) == 36  # colour, shorter side resized
    assert sorted(reader.keys) == sorted(e[0] for e in entries)


def test_mxnet_image_record_iter_reads_what_we_pack(packed):
    prefix, _ = packed
    it = mx.io.ImageRecordIter(path_imgrec=prefix + ".rec", path_imgidx=prefix + ".idx", data_shape=(3, 32, 32),
                               batch_size=7)
    labels = np.concatenate([b.label[0].asnumpy() for b in it])
    assert sorted(labels.tolist()) == sorted(label for _, label, _ in read_lst(prefix + ".lst"))


def test_pack_from_a_list_file(folder, tmp_path):
    lst = tmp_path / "mine.lst"
    write_lst(str(lst), [(0, 4, "ant/0.jpg"), (1, 2, "moth/1.jpg")])
    summary = pack(str(lst), str(tmp_path / "mine"), root=str(folder), workers=1, progress=False)
    assert summary["written"] == 2
    assert scan_records(str(tmp_path / "mine.rec"))[1] == [4.0, 2.0]


def test_files_from_mxnets_im2rec_feed_our_pipelines(folder, tmp_path):
    im2rec = os.path.join(os.path.dirname(mx.__file__), "tools", "im2rec.py")
    prefix = str(tmp_path / "theirs")
    clean = tmp_path / "clean"
    for c in ("ant", "moth"):
        os.makedirs(clean / c)
        for i in range(4):
            os.link(folder / c / ("%d.jpg" % i), clean / c / ("%d.jpg" % i))
    for args in (["--list", "--recursive", prefix, str(clean)], ["--num-thread", "1", prefix, str(clean)]):
        run_im2rec = PLAIN_MXNET + "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
        subprocess.run([sys.executable, "-c", run_im2rec, im2rec, *args], check=True, capture_output=True)
    for pipe in (RecordPipeline(prefix + ".rec", 4, SMALL, train=False, classes=2),
                 ThreadedPipeline(prefix + ".rec", 4, SMALL, train=False, classes=2)):
        ys = np.concatenate([y.asnumpy() for _, y in pipe.epoch()])
        assert sorted(ys.tolist()) == [0.0] * 4 + [1.0] * 4


# ----------------------------------------------------------------------------- bad files

@pytest.fixture()
def copy_of(packed, tmp_path):
    def make():
        prefix = str(tmp_path / "copy")
        for ext in (".rec", ".idx"):
            with open(packed[0] + ext, "rb") as src, open(prefix + ext, "wb") as dst:
                dst.write(src.read())
        return prefix
    return make


def test_truncated_rec_missing_idx_and_foreign_idx_stop_with_the_file_named(copy_of, tmp_path):
    prefix = copy_of()
    size = os.path.getsize(prefix + ".rec")
    with open(prefix + ".rec", "r+b") as f:
        f.truncate(size - 100)
    with pytest.raises(RecordFileError, match="copy.rec is truncated"):
        RecordPipeline(prefix + ".rec", 4, SMALL)
    os.remove(prefix + ".idx")
    with pytest.raises(RecordFileError, match="copy.idx .* does not exist"):
        ThreadedPipeline(prefix + ".rec", 4, SMALL)
    with open(prefix + ".idx", "w") as f:
        f.write("0\t17\n")  # an offset where no record starts
    with pytest.raises(RecordFileError, match="no record at byte 17"):
        RecordPipeline(prefix + ".rec", 4, SMALL)


def test_label_out_of_range_names_the_record(packed):
    with pytest.raises(RecordFileError, match=r"label 2, outside 0\.\.1 \(\d+ such records\)"):
        RecordPipeline(packed[0] + ".rec", 4, SMALL, classes=2)


def _rec_with_undecodable(tmp_path, bad=(3, 6), n=10):
    prefix = str(tmp_path / "bad")
    writer = mx.recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "w")
    rng = np.random.default_rng(1)
    for i in range(n):
        data = cv2.imencode(".jpg", _image(rng, 40, 40))[1].tobytes()
        if i in bad:
            data = b"garbage" * 20
        writer.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(i % 2), i, 0), data))
    writer.close()
    return prefix


@pytest.mark.parametrize("backend", [RecordPipeline, ThreadedPipeline])
@pytest.mark.parametrize("train", [True, False])
def test_undecodable_records_are_skipped_named_and_counted(tmp_path, capsys, backend, train):
    prefix = _rec_with_undecodable(tmp_path)
    before = _sha1(prefix + ".rec"), _sha1(prefix + ".idx")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # one clean line each, never a Python warning
        pipe = backend(prefix + ".rec", 2, SMALL, train=train, classes=2)
        seen = sum(len(y) for _, y in pipe.epoch(0))
    messages = capsys.readouterr().err
    assert "record 3 of" in messages and "record 6 of" in messages
    assert all(line.startswith("gluon_tricks: ") for line in messages.splitlines() if "record" in line)
    assert pipe.skipped >= 1 and seen <= 8
    if not train:
        assert seen == 8 and pipe.skipped == 2  # every good record, once
    assert (_sha1(prefix + ".rec"), _sha1(prefix + ".idx")) == before  # the data set is not touched


def test_folder_loader_names_an_unreadable_file(folder, capsys):
    pipe = ThreadedPipeline(str(folder), 22, SMALL, train=False)
    x, y = next(pipe.epoch())
    assert "gluon_tricks: skipped %s: not a decodable image" % (folder / "zebra" / "broken.jpg") in capsys.readouterr().err
    assert x.shape == (21, 3, 32, 32) and pipe.skipped == 1


# ----------------------------------------------------------------------------- augmentation math

def test_random_resized_crop_box_stays_within_area_and_ratio():
    rng = np.random.default_rng(0)
    for _ in range(500):
        y, x, h, w = random_resized_crop_box(rng, 375, 500, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= y and y + h <= 375 and 0 <= x and x + w <= 500
        assert 0.08 * 0.9 <= h * w / (375 * 500) <= 1.0
        if (h, w) != (375, 500):
            assert 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05
    # A very wide image never fits the ratio at random: the fallback is the centred 4:3 crop.
    assert random_resized_crop_box(rng, 10, 1000, (0.9, 1.0), (3 / 4, 4 / 3)) == (0, 493, 10, 13)


def test_validation_transform_resizes_the_shorter_side_then_centre_crops():
    a = Augment(size=32, crop_ratio=0.5)
    assert a.val_resize == 64 and Augment().val_resize == 256
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 100:] = 255  # right half white: after resize to 64x128 and a centre 32x32 crop, half/half
    out = transform_image(img, a, None, train=False)
    assert out.shape == (32, 32, 3)
    assert out[:, :14].max() == 0 and out[:, 18:].min() == 255


def test_normalisation_writes_rgb_planes_and_lighting_follows_the_formula():
    rgb = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    a = Augment()
    mean, std = np.array(a.mean).reshape(3, 1, 1), np.array(a.std).reshape(3, 1, 1)
    expected = (rgb.transpose(2, 0, 1) - mean) / std
    out = np.full((3, 8, 6), np.nan, np.float32)
    assert np.allclose(normalise_into(rgb, out, a.mean, a.std), expected, atol=1e-5)
    # From OpenCV's BGR order the planes still come out RGB.
    assert np.allclose(normalise_into(rgb[:, :, ::-1].copy(), out, a.mean, a.std, bgr=True), expected, atol=1e-5)

    # Lighting: an RGB offset 255 * eigvec @ (alpha * eigval), alpha ~ N(0, 0.1), before normalising.
    shift = lighting_shift(np.random.default_rng(5), 0.1)
    alpha = np.random.default_rng(5).normal(0, 0.1, 3) * np.array([0.2175, 0.0188, 0.0045])
    by_hand = 255 * np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                              [-0.5836, -0.6948, 0.4203]]) @ alpha
    assert np.allclose(shift, by_hand) and np.abs(shift).max() > 0.5
    lit = normalise_into(rgb, out, a.mean, a.std, shift) * std + mean
    assert np.allclose(lit - rgb.transpose(2, 0, 1), by_hand.reshape(3, 1, 1), atol=1e-3)


def test_colour_jitter_is_brightness_then_contrast_then_saturation_clipped():
    img = np.random.default_rng(1).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    for seed in range(5):
        b, c, s = np.random.default_rng(seed).uniform(0.6, 1.4, 3)
        luma = np.array([0.299, 0.587, 0.114])
        x = img.astype(np.float64) * b                                 # brightness
        x = c * x + (1 - c) * (x @ luma).mean()                        # contrast towards mean gray
        x = s * x + (1 - s) * (x @ luma)[:, :, None]                   # saturation towards each pixel's gray
        got = jitter_image(img, np.random.default_rng(seed), 0.4)
        assert got.dtype == np.uint8
        assert np.abs(got.astype(np.float64) - np.clip(x, 0, 255)).max() < 1  # cv2: float32 matrix, one rounding
        bgr = jitter_image(img[:, :, ::-1].copy(), np.random.default_rng(seed), 0.4, bgr=True)
        assert np.array_equal(bgr[:, :, ::-1], got)  # the same jitter on OpenCV's channel order


# ----------------------------------------------------------------------------- sharding, synthetic

@pytest.mark.parametrize("backend", [RecordPipeline, ThreadedPipeline])
def test_shards_have_equal_batches_and_together_cover_distinct_records(packed, backend):
    prefix, _ = packed
    # No random crop, flip or colour: each record comes out as the same pixels every time, so
    # images can be told apart by content.
    fixed = Augment(size=16, area=(1.0, 1.0), ratio=(1.0, 1.0), flip=False, jitter=0, lighting=0)
    whole = ThreadedPipeline(prefix + ".rec", 3, fixed, train=True)
    everything = {x.tobytes() for b, _ in whole.epoch(0) for x in np.round(b.asnumpy(), 2)}
    shards = [backend(prefix + ".rec", 3, fixed, train=True, part_index=r, num_parts=2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == (21 // 2) // 3
    seen = [[x.tobytes() for b, _ in s.epoch(0) for x in np.round(b.asnumpy(), 2)] for s in shards]
    assert len(seen[0]) == len(seen[1]) == 9
    assert len(set(seen[0]) | set(seen[1])) == 18  # disjoint, no record twice
    if backend is ThreadedPipeline:  # the same pixels as the unsharded reader: records, not noise
        assert set(seen[0]) | set(seen[1]) <= everything


def test_a_training_sample_is_one_fixed_subset_shuffled_each_epoch(packed):
    prefix, _ = packed
    fixed = Augment(size=16, area=(1.0, 1.0), ratio=(1.0, 1.0), flip=False, jitter=0, lighting=0)
    pipe = ThreadedPipeline(prefix + ".rec", 3, fixed, train=True, sample=6)

    def images(epoch):
        return [x.tobytes() for b, _ in pipe.epoch(epoch) for x in np.round(b.asnumpy(), 2)]
    first, second = images(0), images(1)
    assert len(pipe) == 2 and len(first) == len(second) == 6
    assert sorted(first) == sorted(second) and first != second  # the same six images, in another order
    whole = {x.tobytes() for b, _ in ThreadedPipeline(prefix + ".rec", 3, fixed, train=True).epoch(0)
             for x in np.round(b.asnumpy(), 2)}
    assert set(first) <= whole


def test_sample_limits_on_rec_files_need_the_threads_backend(packed):
    from gluon_tricks.data.backends import image_pipelines
    prefix, _ = packed
    train, val, _ = image_pipelines(prefix + ".rec", prefix + ".rec", 4, SMALL, samples=(8, 5))
    assert (train.num_records, val.num_records) == (8, 5)
    with pytest.raises(ValueError, match="need --data-backend threads"):
        image_pipelines(prefix + ".rec", prefix + ".rec", 4, SMALL, backend="imagerecorditer", samples=(8, 0))


@pytest.mark.parametrize("backend", [RecordPipeline, ThreadedPipeline])
def test_validation_yields_every_record_once_with_its_label_when_the_batch_does_not_divide(packed, backend):
    prefix, _ = packed  # 21 records, batch 8: the last batch has 5 (ImageRecordIter pads it and says pad=0)
    pipe = backend(prefix + ".rec", 8, SMALL, train=False)
    labels = np.concatenate([y.asnumpy() for _, y in pipe.epoch()])
    assert len(pipe) == 3 and len(labels) == 21
    assert sorted(labels.tolist()) == sorted(scan_records(prefix + ".rec")[1])


def test_synthetic_pipeline_shapes():
    pipe = SyntheticPipeline(4, SMALL, classes=10, batches=3)
    batches = list(pipe.epoch())
    assert len(batches) == 3 and batches[0][0].shape == (4, 3, 32, 32) and batches[0][1].max() < 10
    assert math.isfinite(float(batches[0][0].mean().asscalar()))


def test_loader_batches_are_the_normalised_rgb_images_in_order(packed):
    prefix, _ = packed
    pipe = ThreadedPipeline(prefix + ".rec", 8, SMALL, train=False)
    x, y = next(pipe.epoch())
    assert x.dtype == np.float32 and x.shape == (8, 3, 32, 32)
    reader = mx.recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "r")
    mean, std = np.array(SMALL.mean).reshape(3, 1, 1), np.array(SMALL.std).reshape(3, 1, 1)
    for k, key in enumerate(pipe.source.keys[:8]):
        header, bgr = mx.recordio.unpack_img(reader.read_idx(key))
        rgb = transform_image(bgr[:, :, ::-1], SMALL, None, train=False)
        assert y[k].asscalar() == header.label
        assert np.allclose(x[k].asnumpy(), (rgb.transpose(2, 0, 1) - mean) / std, atol=1e-4)


def test_region_decoding_gives_the_pixels_of_a_whole_decode(folder, monkeypatch):
    from gluon_tricks.data import decode
    assert decode._jpeg is not None, "the _jpeg extension was not built (needs libjpeg62-turbo-dev at install)"
    rng = np.random.default_rng(0)
    files = sorted(glob.glob(str(folder / "*" / "*")))  # colour, grayscale and CMYK JPEGs, a PNG, a broken file
    big = cv2.imencode(".jpg", cv2.resize(_image(rng, 30, 40), (403, 301)))[1].tobytes()  # 4:2:0, odd size
    bufs = [open(f, "rb").read() for f in files] + [big] * 20
    a = Augment(size=16)
    for k, buf in enumerate(bufs):
        with_ext = decode.crop_bgr(buf, a, np.random.default_rng(k))
        monkeypatch.setattr(decode, "_jpeg", None)
        whole = decode.crop_bgr(buf, a, np.random.default_rng(k))
        monkeypatch.undo()
        assert (with_ext is None) == (whole is None)
        if whole is not None:
            assert with_ext.shape == whole.shape and np.array_equal(with_ext, whole)
    assert decode._jpeg.size(big) == (301, 403) and decode._jpeg.size(b"not a jpeg") is None
    assert decode._jpeg.region(big, 300, 0, 2, 1) is None  # a box outside the image


def test_a_region_decoder_that_fails_in_this_process_is_dropped_with_a_warning(packed, monkeypatch, capsys):
    from gluon_tricks.data import decode
    broken = type("Shadowed", (), {"size": staticmethod(lambda buf: None), "region": staticmethod(lambda *a: None)})
    monkeypatch.setattr(decode, "_jpeg", broken)
    pipe = ThreadedPipeline(packed[0] + ".rec", 4, SMALL, train=True)
    assert "decoding whole images" in capsys.readouterr().err
    assert decode._jpeg is None and sum(len(y) for _, y in pipe.epoch(0)) == 20


def test_fit_counts_the_skipped_images_of_every_epoch(tmp_path, capsys):
    from gluon_tricks.train import Recipe, fit
    from gluon_tricks.train.report import read_log
    prefix = _rec_with_undecodable(tmp_path)  # 10 records, 3 and 6 undecodable
    summary = fit(Recipe(dataset="images", rec_train=prefix + ".rec", rec_val=prefix + ".rec", model="cifar_resnet20_v1b",
                         input_size=32, batch_size=2, epochs=2, warmup_epochs=0, save_dir=str(tmp_path / "run")),
                  progress=False)
    epochs = [r for r in read_log(summary["log"]) if r["kind"] == "epoch"]
    assert [r["skipped_images"] for r in epochs] == [2, 2]
    out = capsys.readouterr()
    assert "(2 undecodable images skipped)" in out.out
    assert out.err.count("gluon_tricks: skipped record 3 of") >= 2  # named every time it is met
