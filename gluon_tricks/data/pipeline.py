"""ImageNet-style input pipelines with the Bag-of-Tricks augmentation.

The augmentation is the paper's: random-resized crop (area 8-100%, aspect 3/4-4/3), flip,
brightness/contrast/saturation jitter 0.4, PCA lighting 0.1, mean/std normalisation. The
ImageRecordIter backend does all of it inside MXNet's C++ iterator; the DataLoader backend does
all of it with OpenCV in a pool of host threads (OpenCV releases the GIL), each image written
straight into its slot of a float32 NCHW batch, so the main thread only hands the batch over.
(Measured on 2 CPU cores, bench/input_pipeline.py: batch-wide MXNet operators on the CPU move
about 2.3 GB/s, so a normalisation pass over a finished batch cost more than the per-image
passes, which run in the decoding threads while the cache is warm.)

Backends, all with ``len()`` and ``epoch(epoch, start)`` like the small-image loaders:

* :class:`RecordPipeline` - ``mx.io.ImageRecordIter`` over a ``.rec`` (the default);
* :class:`LoaderPipeline` - a Gluon DataLoader over an image folder or a ``.rec``;
* :class:`SyntheticPipeline` - one random batch repeated, for throughput benchmarks.
"""
import math
import os
import sys
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
_TO_GRAY = {False: np.outer(np.ones(3), LUMA), True: np.outer(np.ones(3), LUMA[::-1])}  # rows: w^T (RGB, BGR)


def jitter_image(img, rng, jitter, bgr=False):
    """HxWx3 uint8 RGB (or BGR) with brightness, contrast and saturation jitter (factors b, c, s
    uniform in [1 - j, 1 + j], applied in that order), clipped to 0..255.

    The three compose to one affine colour map, x -> c b S x + (1 - c) b (w . mean(x)) 1 with
    S = s I + (1 - s) 1 w^T (w: luma weights), so it is one cv2.transform pass per image, done in
    the loader's threads (OpenCV releases the GIL)."""
    import cv2
    b, c, s = rng.uniform(1 - jitter, 1 + jitter, 3)
    to_gray = _TO_GRAY[bgr]
    m = np.empty((3, 4), np.float32)
    m[:, :3] = c * b * (1 - s) * to_gray
    m[[0, 1, 2], [0, 1, 2]] += c * b * s
    # Mean gray through OpenCV's gray conversion (same weights): 18 us against 38 for cv2.mean's
    # three channels, and within 1e-4 of it.
    mean_gray = cv2.mean(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY))[0]
    m[:, 3] = (1 - c) * b * mean_gray
    return cv2.transform(img, m)


def lighting_shift(rng, lighting):
    """AlexNet-style PCA lighting noise: the RGB offset (0-255 scale) one image gets,
    255 * eigvec @ (alpha * eigval) with alpha ~ N(0, lighting)."""
    alpha = rng.normal(0, lighting, 3) * np.asarray(EIGVAL)
    return 255 * np.asarray(EIGVEC) @ alpha


def normalise_into(img, out, mean, std, shift=(0.0, 0.0, 0.0), bgr=False):
    """HxWx3 uint8 -> ``out`` (3xHxW float32) = (x + shift - mean) / std per RGB channel.

    Per channel the map is a function of one byte, so it is a 256-entry table (cv2.LUT): one
    lookup pass per plane, exact, half the time of a multiply-add pass (measured 69 vs 124 us
    for 224x224)."""
    import cv2
    levels = np.arange(256, dtype=np.float32)
    planes = cv2.split(img)
    for c, plane in enumerate(planes[::-1] if bgr else planes):
        cv2.LUT(plane, (levels + np.float32(shift[c] - mean[c])) / np.float32(std[c]), dst=out[c])
    return out


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


def decode_bgr(buf):
    """JPEG/PNG/... bytes -> HxWx3 uint8 in OpenCV's BGR order (grayscale, CMYK and alpha
    converted); None if undecodable. The pipeline stays in BGR up to normalisation, which
    writes the planes in RGB order: no extra pass to swap channels."""
    import cv2
    return cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)


try:
    from . import _jpeg  # built from _jpeg.c when libjpeg-turbo's headers were there at install
except ImportError:
    _jpeg = None


def check_region_decoder():
    """Keep ``_jpeg`` only if it decodes in this process. A library loaded with global symbols
    can shadow libjpeg's (importing horovod.mxnet does: MXNet's own copy answers "Wrong JPEG
    library version"); then every JPEG would fall back to a whole decode one by one, so say it
    once and decode whole images from the start."""
    global _jpeg
    if _jpeg is None:
        return False
    import cv2
    probe = cv2.imencode(".jpg", np.zeros((16, 24, 3), np.uint8))[1].tobytes()
    if _jpeg.size(probe) != (16, 24):
        warnings.warn("region decoding of JPEGs does not work in this process (another libjpeg is loaded with "
                      "global symbols, e.g. by horovod.mxnet); decoding whole images, which is slower")
        _jpeg = None
    return _jpeg is not None


def decode_crop_bgr(buf, augment, rng):
    """Encoded bytes -> the random-resized-crop region (BGR uint8), or None if undecodable.

    With the ``_jpeg`` extension a JPEG is decoded only as far as the crop needs (see _jpeg.c);
    otherwise, and for other formats or CMYK JPEGs, OpenCV decodes it whole and it is sliced. The
    box is drawn from the same numbers either way, and the pixels are the same (tested)."""
    size = _jpeg.size(buf) if _jpeg is not None else None
    if size is not None:
        y, x, h, w = random_resized_crop_box(rng, size[0], size[1], augment.area, augment.ratio)
        got = _jpeg.region(buf, y, x, h, w)
        if got is not None:
            pixels, stride, dx = got
            return np.frombuffer(pixels, np.uint8)[:h * stride * 3].reshape(h, stride, 3)[:, dx:dx + w]
    img = decode_bgr(buf)
    if img is None:
        return None
    if size is None or size != img.shape[:2]:
        y, x, h, w = random_resized_crop_box(rng, img.shape[0], img.shape[1], augment.area, augment.ratio)
    return img[y:y + h, x:x + w]


def resize_and_flip(crop, augment, rng):
    """A crop -> size x size, mirrored half of the time (the training transform after the crop)."""
    import cv2
    out = cv2.resize(crop, (augment.size, augment.size), interpolation=cv2.INTER_LINEAR)
    if augment.flip and rng.random() < 0.5:
        out = cv2.flip(out, 1)  # 5 us; NumPy's copy of a reversed view took 200 us
    return out


def transform_image(img, augment, rng, train):
    """HxWx3 uint8 -> size x size x 3 uint8: random-resized crop + flip, or resize + centre crop."""
    import cv2
    size = augment.size
    h, w = img.shape[:2]
    if train:
        y, x, ch, cw = random_resized_crop_box(rng, h, w, augment.area, augment.ratio)
        return resize_and_flip(img[y:y + ch, x:x + cw], augment, rng)
    scale = augment.val_resize / min(h, w)
    nh, nw = max(size, int(round(h * scale))), max(size, int(round(w * scale)))
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y, x = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(img[y:y + size, x:x + size])


class _Pipeline:
    """Shared by the backends: batch counting and sharding."""

    def __init__(self, batch_size, augment, train, seed, part_index, num_parts, ctx=None):
        if not 0 <= part_index < num_parts:
            raise ValueError("part_index %d is not in [0, %d)" % (part_index, num_parts))
        self.batch_size, self.augment, self.train, self.seed = batch_size, augment, train, seed
        self.part_index, self.num_parts = part_index, num_parts
        self.ctx = ctx

    @property
    def data_shape(self):
        return (3, self.augment.size, self.augment.size)

    def __len__(self):
        if self.train:  # every worker the same number of full batches
            return (self.num_records // self.num_parts) // self.batch_size
        return -(-self.num_records // self.batch_size)

    def _hand_over(self, x, y):
        """float32 NCHW NumPy batch -> NDArrays on the pipeline's device (on the CPU without a copy)."""
        import mxnet as mx
        if self.ctx is None or self.ctx.device_type == "cpu":
            return mx.nd.from_numpy(x, zero_copy=True), mx.nd.array(y)
        return mx.nd.array(x, ctx=self.ctx), mx.nd.array(y)


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
    source = ImageSource(rec, idx)
    decodes = lambda i: cv2.imdecode(np.frombuffer(source.read(i), np.uint8), cv2.IMREAD_REDUCED_COLOR_2) is not None  # noqa: E731
    with ThreadPoolExecutor(threads) as pool:
        return [key for key, ok in zip(source.keys, pool.map(decodes, range(len(source)))) if not ok]


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
    """Random access to (encoded image bytes, label) from a folder tree or a ``.rec``/``.idx`` pair.

    From a ``.rec`` an image is one ``os.pread`` at the offset found when the file was checked:
    no seek, so threads share one descriptor, and the GIL is released while reading (measured with
    2 threads: 0.17 ms per image through MXNet's reader; decoding from a memory map instead was 9%
    slower than from bytes, the page faults landing inside the decoder)."""

    def __init__(self, path, idx=None, classes=None):
        self.path = path
        if os.path.isdir(path):
            entries, self.classes = scan_folder(path)
            self.keys = [e[0] for e in entries]
            self.labels = [float(e[1]) for e in entries]
            self.files = [os.path.join(path, e[2]) for e in entries]
        else:
            self._idx = idx or os.path.splitext(path)[0] + ".idx"
            self.keys, self.labels, self.extents = scan_records(path, self._idx, extents=True)
            self.classes, self.files = None, None
            self._fd = os.open(path, os.O_RDONLY)  # pread needs no seek: every thread shares it
        _check_labels(self.labels, self.keys, classes, path)

    def __len__(self):
        return len(self.keys)

    def __del__(self):
        if getattr(self, "_fd", None) is not None:  # absent when the checks in __init__ failed
            os.close(self._fd)

    def read(self, i):
        if self.files is not None:
            with open(self.files[i], "rb") as f:
                return f.read()
        if self.extents[i] is None:  # a record split in parts (over 512 MB): MXNet's reader joins them
            import mxnet as mx
            reader = mx.recordio.MXIndexedRecordIO(self._idx, self.path, "r")
            try:
                return mx.recordio.unpack(reader.read_idx(self.keys[i]))[1]
            finally:
                reader.close()
        offset, length = self.extents[i]
        return os.pread(self._fd, length, offset)

    def name(self, i):
        return self.files[i] if self.files is not None else "record %d of %s" % (self.keys[i], self.path)


class _Buffers:
    """float32 batch buffers, each reused once nothing outside holds it (the NDArray made from it
    by ``mx.nd.from_numpy`` keeps a reference while alive). First writes to fresh memory fault
    page by page: measured 0.59 vs 0.26 ms per image to normalise into fresh vs reused buffers."""

    def __init__(self, keep):
        self.keep, self.pool = keep, []

    def get(self, shape):
        for buf in self.pool:
            # held only by this list, this loop and getrefcount's argument
            if buf.shape == shape and sys.getrefcount(buf) == 3:
                buf.flags.writeable = True  # from_numpy marked it read-only while lent out
                return buf
        buf = np.empty(shape, np.float32)
        if len(self.pool) < self.keep:
            self.pool.append(buf)
        return buf


class LoaderPipeline(_Pipeline):
    """A pool of threads running OpenCV over an image folder or a ``.rec``, with the same
    augmentation as :class:`RecordPipeline`: each image is decoded, cropped, flipped,
    colour-jittered, lit and normalised by one thread straight into its slot of the batch, and
    ``prefetch`` batches are in flight ahead of the one being used. An undecodable image is dropped
    from its batch with a warning naming it and counted in ``skipped``."""

    def __init__(self, path, batch_size, augment=None, train=True, idx=None, classes=None, threads=None, seed=0,
                 part_index=0, num_parts=1, ctx=None, prefetch=2):
        super().__init__(batch_size, augment or Augment(), train, seed, part_index, num_parts, ctx)
        import cv2
        cv2.setNumThreads(1)  # process-wide: the pool is parallel over images, not within one
        if train:
            check_region_decoder()
        self.source = ImageSource(path, idx, classes)
        self.labels = self.source.labels
        self.num_records = len(self.source)
        self.threads = threads or os.cpu_count() or 1
        self.prefetch = max(1, prefetch)
        self.skipped = 0  # undecodable images met so far
        self._lock = threading.Lock()
        self._buffers = _Buffers(self.prefetch + 3)

    def _item(self, i, epoch, out):
        """Image ``i`` into ``out`` (3xHxW float32); its label, or None when it does not decode."""
        a = self.augment
        rng = np.random.default_rng((self.seed, epoch, int(i), 4))
        buf = self.source.read(i)
        img = decode_crop_bgr(buf, a, rng) if self.train else decode_bgr(buf)
        if img is None:
            with self._lock:
                self.skipped += 1
            warnings.warn("skipped %s: not a decodable image" % self.source.name(i))
            return None
        img = resize_and_flip(img, a, rng) if self.train else transform_image(img, a, rng, False)
        shift = (0.0, 0.0, 0.0)
        if self.train and a.jitter:
            img = jitter_image(img, rng, a.jitter, bgr=True)
        if self.train and a.lighting:
            shift = lighting_shift(rng, a.lighting)
        normalise_into(img, out, a.mean, a.std, shift, bgr=True)
        return self.source.labels[i]

    def _order(self, epoch):
        n = self.num_records
        if not self.train:
            return np.arange(n)
        order = np.random.default_rng((self.seed, epoch)).permutation(n)
        per_worker = (n // self.num_parts) // self.batch_size * self.batch_size
        return order[self.part_index::self.num_parts][:per_worker]

    def epoch(self, epoch=0, start=0):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor
        order, size = self._order(epoch), self.augment.size
        pool = ThreadPoolExecutor(self.threads)

        def fill(keys, x):
            return [self._item(i, epoch, out) for i, out in zip(keys, x)]

        def submit(b):  # a few images per job: fewer hand-offs between threads
            keys = order[b * self.batch_size:(b + 1) * self.batch_size]
            x = self._buffers.get((len(keys), 3, size, size))
            step = max(1, min(8, len(keys) // self.threads))
            return x, [pool.submit(fill, keys[j:j + step], x[j:j + step]) for j in range(0, len(keys), step)]

        try:
            ahead = deque(submit(b) for b in range(start, min(start + self.prefetch, len(self))))
            for b in range(start, len(self)):
                x, jobs = ahead.popleft()
                if b + self.prefetch < len(self):
                    ahead.append(submit(b + self.prefetch))
                labels = [label for job in jobs for label in job.result()]
                keep = [j for j, label in enumerate(labels) if label is not None]
                if not keep:
                    continue
                if len(keep) < len(labels):
                    x = x[keep]
                yield self._hand_over(x, [labels[j] for j in keep])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class SyntheticPipeline(_Pipeline):
    """One random normalised batch, ``batches`` times: the input-free ceiling for throughput
    benchmarks (NVIDIA's ``--data-backend synthetic``)."""

    def __init__(self, batch_size, augment=None, train=True, classes=1000, batches=100, seed=0, ctx=None):
        super().__init__(batch_size, augment or Augment(), train, seed, 0, 1, ctx)
        self.num_records = batches * batch_size
        rng = np.random.default_rng(seed)
        a = self.augment
        images = rng.integers(0, 256, (batch_size, a.size, a.size, 3), dtype=np.uint8)
        self._x = np.empty((batch_size, 3, a.size, a.size), np.float32)
        for img, out in zip(images, self._x):
            normalise_into(img, out, a.mean, a.std)
        self._y = rng.integers(0, classes, batch_size).astype(np.float32)

    def epoch(self, epoch=0, start=0):
        x, y = self._hand_over(self._x, self._y)
        for _ in range(start, len(self)):
            yield x, y


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


def pipeline_class(path, backend="dataloader"):
    """The backend that reads ``path``: folders always go through the DataLoader."""
    return LoaderPipeline if os.path.isdir(path) or backend == "dataloader" else RecordPipeline


def image_pipelines(train, val, batch_size, augment, backend="dataloader", train_idx=None, val_idx=None,
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
