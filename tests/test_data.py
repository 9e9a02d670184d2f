"""Small-image data: idx parsing, where the data is looked for, and the augmentation gather."""
import gzip
import os
import struct

import numpy as np
import pytest

from gluon_tricks.data import ArrayLoader, BatchErasing, DatasetNotFound, ImageArrays, fashion_mnist_dir, read_idx
from gluon_tricks.data.in_memory import DEBIAN_FASHION_MNIST, FASHION_MNIST_FILES, load_fashion_mnist
from gluon_tricks.train import Recipe


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_fashion_mnist(directory, n_train=12, n_test=5):
    rng = np.random.RandomState(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = FASHION_MNIST_FILES[split]
        _write_idx(os.path.join(directory, images + ".gz"), rng.randint(0, 256, (n, 28, 28)))
        _write_idx(os.path.join(directory, labels), rng.randint(0, 10, n))  # plain, not gzipped


def test_read_idx_round_trip_and_truncation(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = str(tmp_path / "a.idx")
    _write_idx(path, a)
    np.testing.assert_array_equal(read_idx(path), a)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_user_directory_is_used_and_its_absence_explained(tmp_path):
    _fake_fashion_mnist(str(tmp_path))
    train, test = load_fashion_mnist(str(tmp_path))
    assert train.images.shape == (12, 28, 28, 1) and test.images.shape == (5, 28, 28, 1)
    assert train.labels.dtype == np.int32 and len(train.classes) == 10
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFound, match="apt-get install dataset-fashion-mnist") as err:
        fashion_mnist_dir(str(empty))
    assert str(empty) in str(err.value)


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST), reason="Debian's dataset-fashion-mnist not installed")
def test_debian_files_are_the_default():
    assert fashion_mnist_dir() == DEBIAN_FASHION_MNIST
    train, test = load_fashion_mnist()
    assert (len(train), len(test)) == (60000, 10000)
    assert np.bincount(test.labels).tolist() == [1000] * 10


def _toy(n=6, size=5):
    images = np.arange(n * size * size, dtype=np.uint8).reshape(n, size, size, 1)
    return ImageArrays(images, np.arange(n, dtype=np.int32), tuple("abcdef"[:n]))


def test_eval_loader_is_ordered_normalised_and_complete():
    data = _toy(n=5)
    loader = ArrayLoader(data, batch_size=2, mean=(10.0,), std=(2.0,))
    batches = list(loader.epoch())
    assert len(loader) == 3 and [len(y) for _, y in batches] == [2, 2, 1]  # nothing dropped
    x0 = batches[0][0].asnumpy()
    np.testing.assert_allclose(x0[:, 0], (data.images[:2, :, :, 0] - 10.0) / 2.0)
    assert np.concatenate([y.asnumpy() for _, y in batches]).tolist() == [0, 1, 2, 3, 4]


def test_crop_and_flip_are_shifted_or_mirrored_windows_of_the_padded_image():
    data = _toy(n=6, size=5)
    loader = ArrayLoader(data, batch_size=3, mean=(0.0,), std=(1.0,), train=True, pad=2, flip=True, seed=3)
    padded = np.pad(data.images[..., 0].astype(np.float32), ((0, 0), (2, 2), (2, 2)))
    seen_flip = seen_shift = False
    for x, y in loader.epoch(0):
        for img, label in zip(x.asnumpy()[:, 0], y.asnumpy().astype(int)):
            windows = {}
            for dy in range(5):
                for dx in range(5):
                    w = padded[label, dy:dy + 5, dx:dx + 5]
                    windows[(dy, dx, False)] = w
                    windows[(dy, dx, True)] = w[:, ::-1]
            match = [k for k, w in windows.items() if np.array_equal(w, img)]
            assert match, "augmented image is not a crop of the padded original"
            seen_flip |= any(k[2] for k in match)
            seen_shift |= any(k[:2] != (2, 2) for k in match)
    assert seen_flip and seen_shift


def _mirrored(loader, data, epoch):
    """{label: was the image mirrored in this epoch} (no crop: each image is itself or its mirror)."""
    seen = {}
    for x, y in loader.epoch(epoch):
        for img, label in zip(x.asnumpy()[:, 0], y.asnumpy().astype(int)):
            original = data.images[label, :, :, 0].astype(np.float32)
            assert np.array_equal(img, original) or np.array_equal(img, original[:, ::-1])
            seen[label] = not np.array_equal(img, original)
    return seen


def test_alternating_flip_shows_each_image_both_ways_in_any_two_epochs():
    images = (np.arange(48 * 25).reshape(48, 5, 5, 1) % 251).astype(np.uint8)  # asymmetric, distinct
    data = ImageArrays(images, np.arange(48, dtype=np.int32), tuple(range(48)))
    kw = dict(batch_size=8, mean=(0.0,), std=(1.0,), train=True, flip=True, seed=5)
    alternating = ArrayLoader(data, alternate_flip=True, **kw)
    epochs = [_mirrored(alternating, data, e) for e in range(4)]
    assert 12 <= sum(epochs[0].values()) <= 36  # a random half to start
    for e in range(3):
        assert all(epochs[e][i] != epochs[e + 1][i] for i in range(48))
    coins = ArrayLoader(data, **kw)  # independent coins repeat a view for about half the images
    first, second = _mirrored(coins, data, 0), _mirrored(coins, data, 1)
    assert sum(first[i] == second[i] for i in range(48)) > 8
    with pytest.raises(ValueError, match="alternate_flip needs flip"):
        Recipe(flip=False, alternate_flip=True).validate()


def test_epochs_are_reproducible_and_differ():
    data = _toy(n=6)
    loader = ArrayLoader(data, batch_size=2, mean=(0.0,), std=(1.0,), train=True, pad=1, flip=True, seed=1)
    order = lambda e: [y.asnumpy().tolist() for _, y in loader.epoch(e)]  # noqa: E731
    assert order(0) == order(0)
    assert order(0) != order(1) or order(1) != order(2)
    assert sorted(sum(order(0), [])) == list(range(6))  # each image once per epoch


def test_starting_mid_epoch_gives_the_same_batches():
    data = _toy(n=6)
    loader = ArrayLoader(data, batch_size=2, mean=(0.0,), std=(1.0,), train=True, pad=1, flip=True,
                         batch_transform=BatchErasing(2, 0.5), seed=4)
    full = [(x.asnumpy(), y.asnumpy()) for x, y in loader.epoch(3)]
    tail = [(x.asnumpy(), y.asnumpy()) for x, y in loader.epoch(3, start=1)]
    assert len(tail) == 2
    for (xa, ya), (xb, yb) in zip(full[1:], tail):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_cutout_zeroes_one_clipped_square_per_image():
    from gluon_tricks.data.augment import cutout

    x = np.ones((200, 1, 8, 8), np.float32)
    cutout(x, 4, np.random.default_rng(0))
    zeros = (x[:, 0] == 0)
    counts = zeros.sum(axis=(1, 2))
    assert counts.max() == 16 and counts.min() >= 4  # a full 4x4, or clipped at a corner (>= 2x2)
    for z in zeros:
        rows, cols = np.flatnonzero(z.any(1)), np.flatnonzero(z.any(0))
        assert z.sum() == len(rows) * len(cols)  # the zeros form one rectangle
        assert len(rows) <= 4 and len(cols) <= 4


def test_random_erasing_probability_and_box_area():
    from gluon_tricks.data.augment import random_erase

    x = np.zeros((400, 3, 16, 16), np.float32)
    random_erase(x, 0.5, np.random.default_rng(0))
    erased = (x != 0).any(axis=(1, 2, 3))
    assert 0.4 < erased.mean() < 0.6
    areas = (x[erased, 0] != 0).sum(axis=(1, 2)) / 256.0
    assert areas.min() >= 0.01 and areas.max() <= 0.36  # within [0.02, 1/3] up to rounding


# ----------------------------------------------------------------------------- CIFAR

def _fake_cifar(tmp_path, name, fmt, n_train=6, n_test=4):
    """The real archives' layouts (python pickles or binary records), with a few random images."""
    import pickle
    from gluon_tricks.data.in_memory import CIFAR_LAYOUTS
    (py_dir, py_train, py_test, label_key, py_meta, names_key,
     bin_dir, bin_train, bin_test, label_bytes, bin_names) = CIFAR_LAYOUTS[name]
    classes = 10 if name == "cifar10" else 100
    rng = np.random.default_rng(0)
    folder = tmp_path / (py_dir if fmt == "python" else bin_dir)
    folder.mkdir()
    truth = {}
    for split, files in (("train", py_train if fmt == "python" else bin_train),
                         ("test", [py_test] if fmt == "python" else [bin_test])):
        imgs, labels = [], []
        for f in files:
            n = n_train if split == "train" else n_test
            chw = rng.integers(0, 255, (n, 3, 32, 32), dtype=np.uint8)
            lab = rng.integers(0, classes, n)
            if fmt == "python":
                with open(folder / f, "wb") as fh:
                    pickle.dump({b"data": chw.reshape(n, -1), label_key: lab.tolist()}, fh)
            else:
                coarse = np.zeros((n, label_bytes - 1), np.uint8)
                np.concatenate([coarse, lab[:, None].astype(np.uint8), chw.reshape(n, -1)], axis=1).tofile(folder / f)
            imgs.append(chw.transpose(0, 2, 3, 1))
            labels.append(lab)
        truth[split] = (np.concatenate(imgs), np.concatenate(labels))
    names = ["class%d" % i for i in range(classes)]
    if fmt == "python":
        with open(folder / py_meta, "wb") as fh:
            pickle.dump({names_key: [n.encode() for n in names]}, fh)
    else:
        (folder / bin_names).write_text("\n".join(names) + "\n")
    return truth, names


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("fmt", ["python", "binary"])
def test_cifar_loads_both_distributions_as_nhwc_images(tmp_path, name, fmt):
    from gluon_tricks.data.in_memory import load_cifar
    truth, names = _fake_cifar(tmp_path, name, fmt)
    train, test = load_cifar(name, str(tmp_path), download=False)
    for split, arrays in (("train", train), ("test", test)):
        assert arrays.images.shape == truth[split][0].shape and arrays.images.shape[1:] == (32, 32, 3)
        assert np.array_equal(arrays.images, truth[split][0])
        assert np.array_equal(arrays.labels, truth[split][1])
    assert list(train.classes) == names


def test_cifar_missing_or_truncated_says_where_and_what(tmp_path):
    from gluon_tricks.data.in_memory import DatasetNotFound, load_cifar
    with pytest.raises(DatasetNotFound, match="cifar-10-batches-py/"):
        load_cifar("cifar10", str(tmp_path), download=False)
    _fake_cifar(tmp_path, "cifar10", "binary")
    path = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="data_batch_3.bin is truncated"):
        load_cifar("cifar10", str(tmp_path), download=False)


def test_resize_matrix_matches_pils_antialiased_bilinear():
    from PIL import Image

    from gluon_tricks.data.in_memory import resize_matrix
    img = np.random.default_rng(0).uniform(0, 255, (28, 28)).astype(np.float32)
    for size in (14, 20, 24, 28, 32):
        ours = resize_matrix(28, size) @ img @ resize_matrix(28, size).T
        pil = np.asarray(Image.fromarray(img, mode="F").resize((size, size), Image.BILINEAR))
        np.testing.assert_allclose(ours, pil, atol=1e-3)
    np.testing.assert_allclose(resize_matrix(28, 28), np.eye(28), atol=1e-7)  # same size: untouched


def test_progressive_resizing_changes_training_batches_by_stage_and_never_evaluation():
    from gluon_tricks.data.in_memory import resize_matrix, stage_sizes
    assert stage_sizes((20, 28), 5) == [20, 20, 20, 28, 28]
    assert stage_sizes((16, 20, 24, 28), 4) == [16, 20, 24, 28]
    assert stage_sizes((), 3) == []
    data = _toy(n=4, size=12)
    loader = ArrayLoader(data, batch_size=4, mean=(3.0,), std=(2.0,), train=True, seed=0,
                         sizes=stage_sizes((8, 12), 2))
    (x0, y0), = loader.epoch(0)
    (x1, _), = loader.epoch(1)
    assert x0.shape == (4, 1, 8, 8) and x1.shape == (4, 1, 12, 12)
    first = data.images[int(y0.asnumpy()[0]), :, :, 0].astype(np.float32)
    expected = resize_matrix(12, 8) @ ((first - 3.0) / 2.0) @ resize_matrix(12, 8).T
    np.testing.assert_allclose(x0.asnumpy()[0, 0], expected, atol=1e-5)
    test = ArrayLoader(data, batch_size=4, mean=(3.0,), std=(2.0,), sizes=[8, 8])
    assert next(test.epoch(0))[0].shape == (4, 1, 12, 12)


def test_train_sizes_are_checked_before_any_data_is_read():
    from gluon_tricks.train import Recipe
    with pytest.raises(ValueError, match="train_sizes must be whole numbers >= 8"):
        Recipe(train_sizes=(4, 28)).validate()
    with pytest.raises(ValueError, match="not on --dataset images"):
        Recipe(dataset="images", rec_train="a.rec", rec_val="b.rec", train_sizes=(20,)).validate()
