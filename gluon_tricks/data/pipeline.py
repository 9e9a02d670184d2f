"""ImageNet-style input pipelines with the Bag-of-Tricks augmentation.

The augmentation is the paper's: random-resized crop (area 8-100%, aspect 3/4-4/3), flip,
brightness/contrast/saturation jitter 0.4, PCA lighting 0.1, mean/std normalisation. The
ImageRecordIter backend does all of it inside MXNet's C++ iterator; the DataLoader backend does
the per-image part (decode, crop, flip, colour jitter) with OpenCV in host threads and
:class:`BatchAugment` does lighting and normalisation on the batch, on the training device, in
one scale-and-shift. (Measured on 2 CPU cores, bench/input_pipeline.py: MXNet's CPU elementwise
operators move about 2.3 GB/s, so on a CPU every batch pass costs; on a GPU it is cheap.)

Backends, all with ``len()`` and ``epoch(epoch, start)`` like the small-image loaders:

* :class:`RecordPipeline` - ``mx.io.ImageRecordIter`` over a ``.rec`` (the default);
* :class:`LoaderPipeline` - a Gluon DataLoader over an image folder or a ``.rec``;
* :class:`SyntheticPipeline` - one random batch repeated, for throughput benchmarks.
"""
import math
import os
import threading
import warnings

import numpy as np

from .recordio import RecordFileError, classes_path, scan_folder, scan_records

IMAGENET_MEAN = (123.68, 116.779, 103.939)  # RGB, 0-255
IMAGENET_STD = (58.393, 57.12, 57.375)
# AlexNet's PCA of ImageNet RGB pixels (0-1 scale), used by the lighting noise.
EIGVAL = (0.2175, 0.0188, 0.0045)
EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))


class Augment:
    """The paper's augmentation settings (Section 2.1) and the validation transform."""

    def __init__(self, size=224, crop_ratio=0.875, area=(0.08, 1.0), ratio=(3 / 4, 4 / 3), flip=True,
                 jitter=0.4, lighting=0.1, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        if not 0 < crop_ratio <= 1:
            raise ValueError("crop_ratio must be in (0, 1], got %r" % crop_ratio)
        if not 0 < area[0] <= area[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError("bad crop area %r or aspect ratio %r" % (area, ratio))
        self.size, self.crop_ratio, self.area, self.ratio, self.flip = size, crop_ratio, area, ratio, flip
        self.jitter, self.lighting, self.mean, self.std = jitter, lighting, mean, std

    @property
    def val_resize(self):
        """Shorter side before the centre crop: 256 for 224 at the usual 0.875."""
        return int(math.ceil(self.size / self.crop_ratio))


LUMA = (0.299, 0.587, 0.114)  # RGB weights of gray, summing to 1


def jitter_image(img, rng, jitter):
    """HxWx3 uint8 RGB with brightness, contrast and saturation jitter (factors b, c, s uniform in
    [1 - j, 1 + j], applied in that order), clipped to 0..255.

    The three compose to one affine colour map, x -> c b S x + (1 - c) b (w . mean(x)) 1 with
    S = s I + (1 - s) 1 w^T (w: luma weights), so it is one cv2.transform pass per image, done in
    the loader's threads (OpenCV releases the GIL)."""
    import cv2
    b, c, s = rng.uniform(1 - jitter, 1 + jitter, 3)
    w = np.asarray(LUMA)
    m = c * b * (s * np.eye(3) + (1 - s) * np.outer(np.ones(3), w))
    shift = (1 - c) * b * float(np.dot(cv2.mean(img)[:3], w))
    return cv2.transform(img, np.hstack([m, np.full((3, 1), shift)]).astype(np.float32))


class BatchAugment:
    """uint8 NCHW (RGB) batch -> float32 normalised batch, with AlexNet-style PCA lighting noise
    when training (random numbers from NumPy's ``rng``: reproducible per batch). Lighting and
    normalisation fold into one per-channel scale and per-image shift."""

    def __init__(self, augment):
        self.a = augment

    def __call__(self, x, rng, train=True):
        import mxnet as mx
        ctx, (n, ch) = x.context, x.shape[:2]
        std = np.asarray(self.a.std, np.float32)
        offset = np.broadcast_to(-np.asarray(self.a.mean, np.float32) / std, (n, ch)).copy()
        if train and self.a.lighting:
            alpha = rng.normal(0, self.a.lighting, (n, 3)) * np.asarray(EIGVAL)
            offset += (255 * alpha @ np.asarray(EIGVEC).T).astype(np.float32) / std
        scale = mx.nd.array(1 / std, ctx=ctx).reshape((1, ch, 1, 1))
        return mx.nd.broadcast_add(mx.nd.broadcast_mul(x.astype("float32"), scale),
                                   mx.nd.array(offset, ctx=ctx).reshape((n, ch, 1, 1)))


def random_resized_crop_box(rng, height, width, area, ratio, attempts=10):
    """(y, x, h, w) of a crop covering a random fraction ``area`` of the image with a log-uniform
    aspect ratio in ``ratio``; after ``attempts`` misses, the largest centred crop within ``ratio``."""
    for _ in range(attempts):
        target = rng.uniform(*area) * height * width
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif aspect > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def decode_rgb(buf):
    """JPEG/PNG/... bytes -> HxWx3 uint8 RGB (grayscale, CMYK and alpha converted); None if undecodable."""
    import cv2
    img = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)
    return None if img is None else img[:, :, ::-1]


def transform_image(img, augment, rng, train):
    """HxWx3 uint8 -> size x size x 3 uint8: random-resized crop + flip, or resize + centre crop."""
    import cv2
    size = augment.size
    h, w = img.shape[:2]
    if train:
        y, x, ch, cw = random_resized_crop_box(rng, h, w, augment.area, augment.ratio)
        out = cv2.resize(img[y:y + ch, x:x + cw], (size, size), interpolation=cv2.INTER_LINEAR)
        if augment.flip and rng.random() < 0.5:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)
    scale = augment.val_resize / min(h, w)
    nh, nw = max(size, int(round(h * scale))), max(size, int(round(w * scale)))
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y, x = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(img[y:y + size, x:x + size])


class _Pipeline:
    """Shared by the backends: batch counting and the final device-side augmentation."""

    def __init__(self, batch_size, augment, train, seed, part_index, num_parts, ctx=None):
        if not 0 <= part_index < num_parts:
            raise ValueError("part_index %d is not in [0, %d)" % (part_index, num_parts))
        self.batch_size, self.augment, self.train, self.seed = batch_size, augment, train, seed
        self.part_index, self.num_parts = part_index, num_parts
        self.batch_augment = BatchAugment(augment)
        self.ctx = ctx

    @property
    def data_shape(self):
        return (3, self.augment.size, self.augment.size)

    def __len__(self):
        if self.train:  # every worker the same number of full batches
            return (self.num_records // self.num_parts) // self.batch_size
        return -(-self.num_records // self.batch_size)

    def _finish(self, x_uint8, y, epoch, b):
        import mxnet as mx
        ctx = self.ctx or mx.cpu()
        rng = np.random.default_rng((self.seed, epoch, b, 3))
        x = self.batch_augment(x_uint8.as_in_context(ctx), rng, self.train)
        return x, y.astype("float32")


class RecordPipeline(_Pipeline):
    """``mx.io.ImageRecordIter`` doing the whole augmentation in C++ threads.

    ImageRecordIter decodes with at most ``max(cores / 2 - 1, 1)`` threads whatever
    ``preprocess_threads`` says (one thread on a 2-core machine), so ``threads`` iterators run
    side by side, each on its own share of the records, and their batches are joined. Before
    reading, the files are checked (MXNet aborts on a truncated file) and labels are checked
    against ``classes``. An undecodable record makes ImageRecordIter's training path fail
    mid-epoch (a catchable error) and its validation path kill the process (SIGFPE), so the
    validation records are test-decoded up front and the training records when the error comes.
    Each bad record is named in a warning and the file is read from then on by
    :class:`LoaderPipeline`, which skips such records (ImageRecordIter cannot: even with an index
    that leaves a record out, it reads that record's bytes). The dataset is never modified."""

    def __init__(self, rec, batch_size, augment=None, train=True, idx=None, classes=None, threads=None, seed=0,
                 part_index=0, num_parts=1, ctx=None):
        super().__init__(batch_size, augment or Augment(), train, seed, part_index, num_parts, ctx)
        self.rec = rec
        self.idx = idx or os.path.splitext(rec)[0] + ".idx"
        keys, self.labels = scan_records(rec, self.idx)
        _check_labels(self.labels, keys, classes, rec)
        self.num_records = len(keys)
        self.threads = max(1, min(threads or os.cpu_count() or 1, batch_size))
        self._fallback = None
        if not train:
            self._fall_back_if_undecodable()

    def _iterators(self, epoch):
        import mxnet as mx
        a = self.augment
        common = dict(path_imgrec=self.rec, path_imgidx=self.idx, data_shape=(3, a.size, a.size),
                      preprocess_threads=1, seed=self.seed * 1000003 + epoch, seed_aug=self.seed + epoch,
                      **{"mean_" + c: v for c, v in zip("rgb", a.mean)}, **{"std_" + c: v for c, v in zip("rgb", a.std)})
        if self.train:
            common.update(shuffle=True, random_resized_crop=True, min_random_area=a.area[0], max_random_area=a.area[1],
                          min_aspect_ratio=a.ratio[0], max_aspect_ratio=a.ratio[1], rand_mirror=a.flip,
                          brightness=a.jitter, contrast=a.jitter, saturation=a.jitter, pca_noise=a.lighting)
        else:
            # shuffle: without it ImageRecordIter reads the .rec sequentially and ignores the index
            common.update(resize=a.val_resize, round_batch=False, shuffle=True)
        k = self.threads if self.train else 1
        sizes = [self.batch_size // k + (i < self.batch_size % k) for i in range(k)]
        return [mx.io.ImageRecordIter(batch_size=sizes[i], num_parts=self.num_parts * k,
                                      part_index=self.part_index * k + i, **common) for i in range(k)]

    def epoch(self, epoch=0, start=0):
        import mxnet as mx
        b = start
        if self._fallback is None:
            try:
                iterators = self._iterators(epoch)  # reads a first batch already
                for _ in range(b):  # resume: replay the decided order up to batch b
                    for it in iterators:
                        it.next()
                while b < len(self):
                    parts = [it.next() for it in iterators]
                    keep = [p.data[0].shape[0] - p.pad for p in parts]
                    if not self.train:  # ImageRecordIter reports pad 0 for a short last batch (MXNet 1.9.1)
                        keep = [min(keep[0], self.num_records - b * self.batch_size)]
                    x = mx.nd.concat(*[p.data[0][:n] for p, n in zip(parts, keep)], dim=0)
                    y = mx.nd.concat(*[p.label[0][:n] for p, n in zip(parts, keep)], dim=0)
                    yield x.as_in_context(self.ctx or x.context), y
                    b += 1
                return
            except StopIteration:
                return
            except mx.base.MXNetError as err:
                if not self._fall_back_if_undecodable():
                    raise RecordFileError("reading %s failed: %s"
                                          % (self.rec, str(err).strip().splitlines()[-1])) from None
        yield from self._fallback.epoch(epoch, b)

    def _fall_back_if_undecodable(self):
        bad = undecodable_records(self.rec, self.idx, self.threads)
        if bad:
            warnings.warn("%s: %d record(s) are not decodable images (records %s); reading it through the "
                          "DataLoader backend from here on, which skips them" % (self.rec, len(bad), bad[:10]))
            self._fallback = LoaderPipeline(self.rec, self.batch_size, self.augment, self.train, self.idx, None,
                                            self.threads, self.seed, self.part_index, self.num_parts, self.ctx)
        return bool(bad)

    @property
    def skipped(self):
        """Undecodable records met so far (counted by the fallback loader, the only reader that skips)."""
        return self._fallback.skipped if self._fallback else 0


def undecodable_records(rec, idx, threads=1):
    """Keys of the records in ``rec`` whose image does not decode (decoded at half scale: quicker)."""
    import cv2
    from concurrent.futures import ThreadPoolExecutor
    import mxnet as mx
    reader = mx.recordio.MXIndexedRecordIO(idx, rec, "r")
    try:
        bufs = ((key, mx.recordio.unpack(reader.read_idx(key))[1]) for key in reader.keys)
        decodes = lambda item: cv2.imdecode(np.frombuffer(item[1], np.uint8), cv2.IMREAD_REDUCED_COLOR_2) is not None  # noqa: E731
        with ThreadPoolExecutor(threads) as pool:
            return [key for key, ok in zip(reader.keys, pool.map(decodes, bufs)) if not ok]
    finally:
        reader.close()


def _check_labels(labels, keys, classes, source):
    if classes is None:
        return
    labels = np.asarray(labels)
    wrong = np.flatnonzero((labels < 0) | (labels >= classes) | (labels != np.round(labels)))
    if len(wrong):
        i = wrong[0]
        raise RecordFileError("%s: record %d has label %g, outside 0..%d (%d such records); wrong --num-classes "
                              "or wrong file?" % (source, keys[i], labels[i], classes - 1, len(wrong)))


class ImageSource:
    """Random access to (encoded image bytes, label) from a folder tree or a ``.rec``/``.idx`` pair."""

    def __init__(self, path, idx=None, classes=None):
        self.path = path
        if os.path.isdir(path):
            entries, self.classes = scan_folder(path)
            self.keys = [e[0] for e in entries]
            self.labels = [float(e[1]) for e in entries]
            self.files = [os.path.join(path, e[2]) for e in entries]
            self._reader = None
        else:
            idx = idx or os.path.splitext(path)[0] + ".idx"
            self.keys, self.labels = scan_records(path, idx)
            self.classes, self.files, self._idx = None, None, idx
            self._local = threading.local()  # one reader (file handle) per thread
        _check_labels(self.labels, self.keys, classes, path)

    def __len__(self):
        return len(self.keys)

    def read(self, i):
        if self.files is not None:
            with open(self.files[i], "rb") as f:
                return f.read()
        import mxnet as mx
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = mx.recordio.MXIndexedRecordIO(self._idx, self.path, "r")
        return mx.recordio.unpack(reader.read_idx(self.keys[i]))[1]

    def name(self, i):
        return self.files[i] if self.files is not None else "record %d of %s" % (self.keys[i], self.path)


class LoaderPipeline(_Pipeline):
    """A Gluon DataLoader (thread pool: OpenCV releases the GIL) over an image folder or a ``.rec``,
    with the same crop, flip and batch augmentation as :class:`RecordPipeline`. An undecodable
    image is dropped from its batch with a warning naming it and counted in ``skipped``."""

    def __init__(self, path, batch_size, augment=None, train=True, idx=None, classes=None, threads=None, seed=0,
                 part_index=0, num_parts=1, ctx=None):
        super().__init__(batch_size, augment or Augment(), train, seed, part_index, num_parts, ctx)
        self.source = ImageSource(path, idx, classes)
        self.labels = self.source.labels
        self.num_records = len(self.source)
        self.threads = threads or os.cpu_count() or 1
        self.skipped = 0  # undecodable images met so far
        self._lock = threading.Lock()

    def _item(self, job):
        i, epoch = job
        img = decode_rgb(self.source.read(i))
        if img is None:
            with self._lock:
                self.skipped += 1
            warnings.warn("skipped %s: not a decodable image" % self.source.name(i))
            return None
        rng = np.random.default_rng((self.seed, epoch, int(i), 4))
        img = transform_image(img, self.augment, rng, self.train)
        if self.train and self.augment.jitter:
            img = jitter_image(img, rng, self.augment.jitter)
        return img, self.source.labels[i]

    def epoch(self, epoch=0, start=0):
        import mxnet as mx
        from mxnet.gluon.data import DataLoader
        n = self.num_records
        if self.train:
            order = np.random.default_rng((self.seed, epoch)).permutation(n)
            per_worker = (n // self.num_parts) // self.batch_size * self.batch_size
            order = order[self.part_index::self.num_parts][:per_worker]
        else:
            order = np.arange(n)
        batches = [order[b * self.batch_size:(b + 1) * self.batch_size] for b in range(start, len(self))]
        loader = DataLoader(_Items(self, epoch), batch_sampler=batches, batchify_fn=list, num_workers=self.threads,
                            thread_pool=True, prefetch=2 * self.threads)
        for b, items in zip(range(start, len(self)), loader):
            items = [it for it in items if it is not None]
            if not items:
                continue
            x = mx.nd.array(np.stack([it[0] for it in items]).transpose(0, 3, 1, 2), dtype="uint8")
            y = mx.nd.array([it[1] for it in items])
            yield self._finish(x, y, epoch, b)


class _Items:
    """The Dataset the DataLoader's threads read: item i decoded and transformed for ``epoch``."""

    def __init__(self, pipeline, epoch):
        self.pipeline, self.epoch = pipeline, epoch

    def __len__(self):
        return self.pipeline.num_records

    def __getitem__(self, i):
        return self.pipeline._item((i, self.epoch))


class SyntheticPipeline(_Pipeline):
    """One random uint8 batch, lit and normalised like real data (no per-image crop or jitter),
    ``batches`` times: the input-free ceiling for throughput benchmarks (NVIDIA's
    ``--data-backend synthetic``)."""

    def __init__(self, batch_size, augment=None, train=True, classes=1000, batches=100, seed=0, ctx=None):
        super().__init__(batch_size, augment or Augment(), train, seed, 0, 1, ctx)
        self.num_records = batches * batch_size
        rng = np.random.default_rng(seed)
        size = self.augment.size
        self._x = rng.integers(0, 256, (batch_size, 3, size, size), dtype=np.uint8)
        self._y = rng.integers(0, classes, batch_size).astype(np.float32)

    def epoch(self, epoch=0, start=0):
        import mxnet as mx
        x, y = mx.nd.array(self._x, dtype="uint8"), mx.nd.array(self._y)
        for b in range(start, len(self)):
            yield self._finish(x, y, epoch, b)


def class_names(path):
    """Class names of an image folder tree (its sorted sub-folders) or of a ``.rec`` (the
    ``.classes.json`` scripts/pack.py writes beside it); None when a ``.rec`` has none."""
    import json
    if os.path.isdir(path):
        return scan_folder(path)[1]
    names = classes_path(os.path.splitext(path)[0])
    if not os.path.isfile(names):
        return None
    with open(names) as f:
        return list(json.load(f)["classes"])


def pipeline_class(path, backend="imagerecorditer"):
    """The backend that reads ``path``: folders always go through the DataLoader."""
    return LoaderPipeline if os.path.isdir(path) or backend == "dataloader" else RecordPipeline


def image_pipelines(train, val, batch_size, augment, backend="imagerecorditer", train_idx=None, val_idx=None,
                    classes=0, threads=None, seed=0, part_index=0, num_parts=1):
    """``(train pipeline, validation pipeline, class names)`` for a ``.rec`` pair or two folder trees.

    The class count is ``classes``, else the number of names, else the largest label + 1; every
    label of both sets is checked against it before training starts."""
    names = class_names(train)
    if os.path.isdir(train) and os.path.isdir(val) and class_names(val) != names:
        raise RecordFileError("%s and %s have different class folders; both need the same <class> sub-folders"
                              % (train, val))
    count = classes or len(names or ())
    shared = dict(classes=count or None, threads=threads, seed=seed)
    train_pipe = pipeline_class(train, backend)(train, batch_size, augment, True, train_idx, part_index=part_index, num_parts=num_parts,
                      **shared)
    if not count:
        count = int(max(train_pipe.labels)) + 1
        shared["classes"] = count
    val_pipe = pipeline_class(val, backend)(val, batch_size, augment, False, val_idx, **shared)
    if names is None or len(names) != count:
        names = ["class %d" % i for i in range(count)]
    return train_pipe, val_pipe, names
