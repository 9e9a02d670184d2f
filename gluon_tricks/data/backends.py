"""ImageNet-style batch sources, with the Bag-of-Tricks augmentation (see :mod:`.augment`).

Every source here and :class:`~gluon_tricks.data.in_memory.ArrayLoader` follow one protocol:
``len()`` (batches per epoch), ``epoch(epoch, start)`` (that epoch's batches from batch ``start``,
the same batches whatever ``start``), ``data_shape`` (C, H, W) and ``skipped`` (undecodable
images met so far).

Backends (the recipe's ``data_backend``):

* ``threads`` - :class:`ThreadedPipeline`: a pool of threads running OpenCV over an image folder
  or a ``.rec``, each image written straight into its slot of a float32 NCHW batch (the default;
  ``dataloader``, its name until it stopped being Gluon's DataLoader, is still accepted);
* ``imagerecorditer`` - :class:`RecordPipeline`: ``mx.io.ImageRecordIter`` over a ``.rec``;
* :class:`SyntheticPipeline` - one random batch repeated, for throughput benchmarks.

(Measured on 2 CPU cores, bench/input_pipeline.py: batch-wide MXNet operators on the CPU move
about 2.3 GB/s, so a normalisation pass over a finished batch cost more than the per-image
passes, which run in the decoding threads while the cache is warm.)
"""
import os
import sys
import threading

import numpy as np

from . import decode
from .augment import Augment, jitter_image, lighting_shift, normalise_into, resize_and_flip, transform_image
from .recordio import RecordFileError, scan_records
from .sources import ImageSource, check_labels, class_names, undecodable_records
from ..notice import notice
from ..errors import BadInput

class _Pipeline:
    """Shared by the backends: batch counting and sharding."""

    skipped = 0  # undecodable images met so far (only the threads backend meets and skips them)

    def __init__(self, batch_size, augment, train, seed, part_index, num_parts, ctx=None):
        if not 0 <= part_index < num_parts:
            raise BadInput("part_index %d is not in [0, %d)" % (part_index, num_parts))
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
    :class:`ThreadedPipeline`, which skips such records (ImageRecordIter cannot: even with an index
    that leaves a record out, it reads that record's bytes). The dataset is never modified."""

    def __init__(self, rec, batch_size, augment=None, train=True, idx=None, classes=None, threads=None, seed=0,
                 part_index=0, num_parts=1, ctx=None):
        super().__init__(batch_size, augment or Augment(), train, seed, part_index, num_parts, ctx)
        self.rec = rec
        self.idx = idx or os.path.splitext(rec)[0] + ".idx"
        keys, self.labels = scan_records(rec, self.idx)
        check_labels(self.labels, keys, classes, rec)
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
            notice("%s: %d record(s) are not decodable images (records %s); reading it through the threads "
                   "backend from here on, which skips them" % (self.rec, len(bad), bad[:10]))
            self._fallback = ThreadedPipeline(self.rec, self.batch_size, self.augment, self.train, self.idx, None,
                                            self.threads, self.seed, self.part_index, self.num_parts, self.ctx)
        return bool(bad)

    @property
    def skipped(self):
        """Undecodable records met so far (counted by the fallback loader, the only reader that skips)."""
        return self._fallback.skipped if self._fallback else 0


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


class ThreadedPipeline(_Pipeline):
    """A pool of threads running OpenCV over an image folder or a ``.rec``, with the same
    augmentation as :class:`RecordPipeline`: each image is decoded, cropped, flipped,
    colour-jittered, lit and normalised by one thread straight into its slot of the batch, and
    ``prefetch`` batches are in flight ahead of the one being used. An undecodable image is dropped
    from its batch with a warning naming it and counted in ``skipped``. ``sample`` > 0 reads only a
    seeded random subset of that many images (in file order for validation: int8 calibration and a
    quick evaluation need every class, and files are often sorted by class; shuffled each epoch for training)."""

    def __init__(self, path, batch_size, augment=None, train=True, idx=None, classes=None, threads=None, seed=0,
                 part_index=0, num_parts=1, ctx=None, prefetch=2, sample=0):
        super().__init__(batch_size, augment or Augment(), train, seed, part_index, num_parts, ctx)
        import cv2
        cv2.setNumThreads(1)  # process-wide: the pool is parallel over images, not within one
        if train:
            decode.check_region_decoder()
        self.source = ImageSource(path, idx, classes)
        self.labels = self.source.labels
        self.num_records = len(self.source)
        self.threads = threads or os.cpu_count() or 1
        self.prefetch = max(1, prefetch)
        self.skipped = 0  # undecodable images met so far
        self._lock = threading.Lock()
        self._buffers = _Buffers(self.prefetch + 3)
        self.sample = min(sample, self.num_records) if sample else 0
        self.num_records = self.sample or self.num_records

    def _item(self, i, epoch, out):
        """Image ``i`` into ``out`` (3xHxW float32); its label, or None when it does not decode."""
        a = self.augment
        rng = np.random.default_rng((self.seed, epoch, int(i), 4))
        buf = self.source.read(i)
        img = decode.crop_bgr(buf, a, rng) if self.train else decode.whole_bgr(buf)
        if img is None:
            with self._lock:
                self.skipped += 1
            notice("skipped %s: not a decodable image" % self.source.name(i))
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
        keys = np.sort(np.random.default_rng(self.seed).choice(len(self.source), n, replace=False)) \
            if self.sample else np.arange(n)
        if not self.train:
            return keys
        order = keys[np.random.default_rng((self.seed, epoch)).permutation(n)]
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


BACKENDS = {"threads": ThreadedPipeline, "imagerecorditer": RecordPipeline}
BACKEND_ALIASES = {"dataloader": "threads"}  # the threads backend's first name; old recipes say it


def pipeline_class(path, backend="threads"):
    """The backend that reads ``path``: folders always go through the threads backend."""
    backend = BACKEND_ALIASES.get(backend, backend)
    if backend not in BACKENDS:
        raise BadInput("unknown data backend %r; choose %s" % (backend, " or ".join(BACKENDS)))
    return ThreadedPipeline if os.path.isdir(path) else BACKENDS[backend]


def image_pipelines(train, val, batch_size, augment, backend="threads", train_idx=None, val_idx=None,
                    classes=0, threads=None, seed=0, part_index=0, num_parts=1, samples=(0, 0)):
    """``(train pipeline, validation pipeline, class names)`` for a ``.rec`` pair or two folder trees.

    The class count is ``classes``, else the number of names, else the largest label + 1; every
    label of both sets is checked against it before training starts. ``samples``: (train, validation)
    image counts to read a seeded random subset of (0: all); only the threads backend takes them."""
    names = class_names(train)
    if os.path.isdir(train) and os.path.isdir(val) and class_names(val) != names:
        raise RecordFileError("%s and %s have different class folders; both need the same <class> sub-folders"
                              % (train, val))
    count = classes or len(names or ())
    shared = dict(classes=count or None, threads=threads, seed=seed)
    kinds = pipeline_class(train, backend), pipeline_class(val, backend)
    for kind, sample in zip(kinds, samples):
        if sample and kind is not ThreadedPipeline:
            raise BadInput("--train-samples/--test-samples on .rec files need --data-backend threads")
    sample = [{"sample": n} if n else {} for n in samples]
    train_pipe = kinds[0](train, batch_size, augment, True, train_idx, part_index=part_index, num_parts=num_parts,
                          **shared, **sample[0])
    if not count:
        count = int(max(train_pipe.labels)) + 1
        shared["classes"] = count
    val_pipe = kinds[1](val, batch_size, augment, False, val_idx, **shared, **sample[1])
    if names is None or len(names) != count:
        names = ["class %d" % i for i in range(count)]
    return train_pipe, val_pipe, names
