"""Small-image datasets (28-32 px) held in memory as uint8 arrays, and their batch augmentation."""
import gzip
import os
import struct
from dataclasses import dataclass

import numpy as np

from .datasets import register_dataset
from ..errors import BadInput, InputNotFound

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DatasetNotFound(InputNotFound):
    """The data set is in none of the places we looked; the message says where and how to get it."""


@dataclass
class ImageArrays:
    """Images as uint8 NHWC plus int32 labels; small enough to keep in memory."""
    images: np.ndarray
    labels: np.ndarray
    classes: tuple

    def __len__(self):
        return len(self.labels)

    def subset(self, count, seed=None):
        """The first ``count`` items, or a seeded random ``count`` of them; all when count is 0."""
        if not count or count >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).permutation(len(self))[:count]) if seed is not None \
            else np.arange(count)
        return ImageArrays(self.images[idx], self.labels[idx], self.classes)


def read_idx(path):
    """Read an idx file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        zero, dtype_code, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype_code != 0x08:
            raise BadInput("%s is not an idx file of unsigned bytes" % path)
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        raise BadInput("%s is truncated: header says %s, found %d bytes" % (path, shape, data.size))
    return data.reshape(shape)


def _find(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _has_fashion_mnist(directory):
    return all(_find(directory, stem) for pair in FASHION_MNIST_FILES.values() for stem in pair)


def fashion_mnist_dir(data_dir=None, download=True):
    """Where the Fashion-MNIST idx files are.

    A directory the user names wins; otherwise Debian's ``dataset-fashion-mnist`` package,
    otherwise MXNet's own download into ``$MXNET_HOME/datasets/fashion-mnist``.
    """
    if data_dir:
        if _has_fashion_mnist(data_dir):
            return data_dir
        raise DatasetNotFound(
            "Fashion-MNIST idx files (train-images-idx3-ubyte[.gz], ...) are not in %s. "
            "Install them with `apt-get install dataset-fashion-mnist` (they land in %s) or point "
            "--data-dir at a directory holding the four files." % (data_dir, DEBIAN_FASHION_MNIST))
    if _has_fashion_mnist(DEBIAN_FASHION_MNIST):
        return DEBIAN_FASHION_MNIST
    import mxnet as mx
    cache = os.path.join(mx.base.data_dir(), "datasets", "fashion-mnist")
    if _has_fashion_mnist(cache):
        return cache
    if download:
        try:
            for train in (True, False):
                mx.gluon.data.vision.FashionMNIST(root=cache, train=train)
            return cache
        except Exception as err:  # network errors come in many types
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    else:
        reason = "download disabled"
    raise DatasetNotFound(
        "Fashion-MNIST not found: looked in %s (Debian package) and %s (MXNet cache); "
        "the download failed (%s). Install it with `apt-get install dataset-fashion-mnist` "
        "or pass --data-dir DIR with the four idx files." % (DEBIAN_FASHION_MNIST, cache, reason))


def load_fashion_mnist(data_dir=None, download=True):
    """(train, test) as :class:`ImageArrays` with images of shape (N, 28, 28, 1)."""
    root = fashion_mnist_dir(data_dir, download)
    splits = []
    for split in ("train", "test"):
        images_stem, labels_stem = FASHION_MNIST_FILES[split]
        images = read_idx(_find(root, images_stem))
        labels = read_idx(_find(root, labels_stem)).astype(np.int32)
        if len(images) != len(labels):
            raise BadInput("%s: %d images but %d labels" % (root, len(images), len(labels)))
        splits.append(ImageArrays(images[..., None], labels, FASHION_MNIST_CLASSES))
    return tuple(splits)


CIFAR_LAYOUTS = {
    # name: (python folder, its train files, test file, label key, meta file, names key,
    #        binary folder, its train files, test file, label bytes, names file)
    "cifar10": ("cifar-10-batches-py", ["data_batch_%d" % i for i in range(1, 6)], "test_batch", b"labels",
                "batches.meta", b"label_names",
                "cifar-10-batches-bin", ["data_batch_%d.bin" % i for i in range(1, 6)], "test_batch.bin", 1,
                "batches.meta.txt"),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels", "meta", b"fine_label_names",
                 "cifar-100-binary", ["train.bin"], "test.bin", 2, "fine_label_names.txt"),
}


def _read_cifar_python(folder, files, label_key):
    import pickle
    images, labels = [], []
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        images.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch[label_key])
    return np.concatenate(images).transpose(0, 2, 3, 1), np.asarray(labels, np.int32)


def _read_cifar_binary(folder, files, label_bytes):
    records = []
    for name in files:
        raw = np.fromfile(os.path.join(folder, name), np.uint8)
        if raw.size % (label_bytes + 3072):
            raise BadInput("%s is truncated: %d bytes is not a whole number of %d-byte records"
                           % (os.path.join(folder, name), raw.size, label_bytes + 3072))
        records.append(raw.reshape(-1, label_bytes + 3072))
    records = np.concatenate(records)
    images = records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, label_bytes - 1].astype(np.int32)  # the fine label is last


def load_cifar(name, data_dir=None, download=True):
    """(train, test) :class:`ImageArrays` (N, 32, 32, 3) of CIFAR-10 or CIFAR-100 (fine labels), from
    the python or the binary distribution in ``data_dir`` (or a subfolder named as in the archives),
    else from MXNet's cache, downloading there if allowed."""
    import mxnet as mx
    (py_dir, py_train, py_test, label_key, py_meta, names_key,
     bin_dir, bin_train, bin_test, label_bytes, bin_names) = CIFAR_LAYOUTS[name]
    cache = os.path.join(mx.base.data_dir(), "datasets", name)
    places = [d for d in (data_dir, os.path.join(data_dir or "", py_dir), os.path.join(data_dir or "", bin_dir))
              if data_dir] or [cache, os.path.join(cache, bin_dir)]
    for folder in places:
        if all(os.path.isfile(os.path.join(folder, f)) for f in py_train + [py_test]):
            import pickle
            with open(os.path.join(folder, py_meta), "rb") as f:
                classes = tuple(n.decode() for n in pickle.load(f, encoding="bytes")[names_key])
            return tuple(ImageArrays(*_read_cifar_python(folder, files, label_key), classes)
                         for files in (py_train, [py_test]))
        if all(os.path.isfile(os.path.join(folder, f)) for f in bin_train + [bin_test]):
            names_path = os.path.join(folder, bin_names)
            classes = tuple(open(names_path).read().split()) if os.path.isfile(names_path) else \
                tuple(str(i) for i in range(10 if name == "cifar10" else 100))
            return tuple(ImageArrays(*_read_cifar_binary(folder, files, label_bytes), classes)
                         for files in (bin_train, [bin_test]))
    if data_dir:
        raise DatasetNotFound("%s files are not in %s: expected the python (%s/) or binary (%s/) distribution "
                              "from https://www.cs.toronto.edu/~kriz/cifar.html" % (name, data_dir, py_dir, bin_dir))
    if not download:
        raise DatasetNotFound("%s is not in MXNet's cache %s and downloading is off; pass --data-dir" % (name, cache))
    try:
        dataset = mx.gluon.data.vision.CIFAR10 if name == "cifar10" else mx.gluon.data.vision.CIFAR100
        for train in (True, False):
            dataset(root=cache, train=train)
    except Exception as err:  # network errors come in many types
        raise DatasetNotFound("%s is not in %s and the download failed (%s); pass --data-dir with the python or "
                              "binary distribution" % (name, cache, str(err).splitlines()[0] if str(err) else
                                                       type(err).__name__)) from None
    return load_cifar(name, cache, download=False)


register_dataset("fashion-mnist", load_fashion_mnist, (72.94,), (90.02,), 28)
# CIFAR: the usual published per-channel statistics of the training images.
register_dataset("cifar10", lambda data_dir=None: load_cifar("cifar10", data_dir),
                 (125.31, 122.95, 113.87), (62.99, 62.09, 66.70), 32)
register_dataset("cifar100", lambda data_dir=None: load_cifar("cifar100", data_dir),
                 (129.30, 124.07, 112.43), (68.17, 65.39, 70.42), 32)


def resize_matrix(src, dst):
    """(dst, src) weights of a linear (triangle) filter that resamples ``src`` pixels to ``dst``; when
    shrinking, the filter widens by src/dst so every source pixel counts (antialiasing, as PIL's
    bilinear). Rows sum to 1. A batch resizes as two small matrix products, one per axis."""
    scale = src / dst
    support = max(scale, 1.0)
    centres = (np.arange(dst) + 0.5) * scale - 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(np.arange(src)[None, :] - centres[:, None]) / support)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def stage_sizes(sizes, epochs):
    """Progressive resizing: the training input size of each epoch, the epochs split into
    ``len(sizes)`` equal stages (repeat a size to lengthen its stage); [] (no resizing) for ()."""
    if not sizes:
        return []
    return [int(sizes[min(len(sizes) - 1, e * len(sizes) // epochs)]) for e in range(epochs)]


class ArrayLoader:
    """Batches of normalised NCHW float32 NDArrays from in-memory images.

    Pad-and-random-crop and horizontal flip happen together as one gather per batch;
    ``batch_transform(x, rng)`` (cutout, random erasing: :class:`~.augment.BatchErasing`) acts on
    the whole normalised batch before it is sharded. The order of epoch ``e`` depends only on ``(seed, e)`` and batch ``b``'s augmentation only on
    ``(seed, e, b)``: a run resumed at any batch sees the batches an unbroken run would.

    ``alternate_flip`` mirrors image ``i`` in epoch ``e`` when ``first[i] + e`` is odd (``first``
    a random bit per image): in any two epochs in a row each image is seen both ways, where
    independent coins repeat a view half of the time (Jordan's airbench found it worth
    epochs in short runs).

    ``sizes`` (one per epoch: :func:`stage_sizes`) resizes each training batch after
    crop and flip: progressive resizing trains early epochs on fewer pixels.

    With ``num_parts`` > 1 (distributed workers) every worker draws the same global batch of
    ``batch_size * num_parts`` images and keeps slice ``part_index``: the workers together see
    exactly what one worker with the whole batch sees, and all get the same number of batches.
    """

    skipped = 0  # in memory, every image decodes

    def __init__(self, data, batch_size, mean, std, train=False, pad=0, flip=False, batch_transform=None,
                 seed=0, part_index=0, num_parts=1, sizes=None, alternate_flip=False):
        if not 0 <= part_index < num_parts:
            raise BadInput("part_index %d is not in [0, %d)" % (part_index, num_parts))
        self.data = data
        self.batch_size = batch_size
        self.part = slice(part_index * batch_size, (part_index + 1) * batch_size) if num_parts > 1 else slice(None)
        self.global_batch = batch_size * num_parts
        self.train = train
        self.pad = pad
        self.flip = flip
        self._first_flip = np.random.default_rng((seed, 3)).random(len(data)) < 0.5 if alternate_flip else None
        self.batch_transform = batch_transform
        self.seed = seed
        self.sizes = list(sizes or [])
        self._mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        self._std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        width = ((0, 0), (pad, pad), (pad, pad), (0, 0))
        self._padded = np.pad(data.images, width) if pad else data.images

    @property
    def data_shape(self):
        _, h, w, c = self.data.images.shape
        return (c, h, w)

    def normalized(self, count):
        """The first ``count`` images as the network sees them, unaugmented, at their native size (NCHW float32)."""
        return self._normalize(self.data.images[:count])

    def _normalize(self, images):
        return (images.transpose(0, 3, 1, 2).astype(np.float32) - self._mean) / self._std

    def __len__(self):
        n = len(self.data)
        return n // self.global_batch if self.train else -(-n // self.global_batch)

    def epoch(self, epoch=0, start=0):
        """Yield ``(images, labels)`` for one pass from batch ``start``; training drops the last partial batch."""
        import mxnet as mx
        n = len(self.data)
        order = np.random.default_rng((self.seed, epoch)).permutation(n) if self.train else np.arange(n)
        for b in range(start, len(self)):
            idx = order[b * self.global_batch:(b + 1) * self.global_batch]
            rng = np.random.default_rng((self.seed, epoch, b, 1))
            batch = self._crop_flip(idx, rng, epoch) if self.train and (self.pad or self.flip) else self.data.images[idx]
            x = self._normalize(batch)
            size = self.sizes[min(epoch, len(self.sizes) - 1)] if self.train and self.sizes else None
            if size and size != x.shape[2]:
                rows, cols = resize_matrix(x.shape[2], size), resize_matrix(x.shape[3], size)
                x = np.ascontiguousarray(np.matmul(np.matmul(rows, x), cols.T))
            if self.train and self.batch_transform:
                self.batch_transform(x, rng)
            yield mx.nd.array(x[self.part]), mx.nd.array(self.data.labels[idx][self.part], dtype=np.float32)

    def _crop_flip(self, idx, rng, epoch):
        _, h, w, _ = self.data.images.shape
        b = len(idx)
        rows = rng.integers(0, 2 * self.pad + 1, b)[:, None] + np.arange(h)
        cols = rng.integers(0, 2 * self.pad + 1, b)[:, None] + np.arange(w)
        if self.flip:
            coins = rng.random(b) < 0.5  # drawn either way, so what rng gives next (cutout) is the same
            flipped = coins if self._first_flip is None else self._first_flip[idx] ^ bool(epoch % 2)
            cols[flipped] = cols[flipped, ::-1]
        return self._padded[idx[:, None, None], rows[:, :, None], cols[:, None, :]]
