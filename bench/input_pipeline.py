#!/usr/bin/env python
"""Training input pipeline throughput against the JPEG decode limit, side by side in one run.

Makes (once) a folder of 500x375 JPEGs with photo-like statistics, packs it with our packer,
then measures on the same files and the same number of threads:

* decode limit: cv2.imdecode of every JPEG (bytes already in memory) on a thread pool;
* ours, ImageRecordIter backend: one iterator per thread, the whole augmentation in C++
  (random-resized crop 224, flip, jitter 0.4, PCA lighting 0.1, normalisation);
* the same iterators with crop and flip only (uint8): what decoding and cropping alone cost;
* ours, threads backend over the .rec and over a folder of the same JPEG files (the whole
  augmentation per image in a thread pool, written into the batch), decoding only each crop's
  region of the JPEG (the _jpeg extension), and the same with whole-image decoding;
* GluonCV's ways: one ImageRecordIter with preprocess_threads = threads, and a Gluon DataLoader
  (``threads`` worker processes) with Gluon's transforms over the folder.

Prints img/s and the ratio to the decode limit, then where the threads backend's thread time
goes per image; appends a record to bench/results/input_pipeline.jsonl.

    python bench/input_pipeline.py                 # 2 threads, 800 images, batch 64
    python bench/input_pipeline.py --threads 4 --images 2000
"""
import argparse
import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))

import gluon_tricks  # noqa: E402,F401  (sets OMP_NUM_THREADS before MXNet loads)
import cv2  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from gluon_tricks.data import backends, decode, sources  # noqa: E402
from gluon_tricks.data.augment import IMAGENET_MEAN, IMAGENET_STD, Augment  # noqa: E402
from gluon_tricks.data.backends import RecordPipeline, ThreadedPipeline  # noqa: E402
from gluon_tricks.data.recordio import pack  # noqa: E402
from gluon_tricks.machine import machine_info  # noqa: E402


def make_images(root, n, seed=0):
    """Smooth random colour fields plus sensor-like noise, JPEG quality 90: about 80 KB each,
    close to an average ImageNet training JPEG."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        path = os.path.join(root, "c%d" % (i % 10), "%05d.jpg" % i)
        if os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        img = cv2.resize(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8), (500, 375), interpolation=cv2.INTER_CUBIC)
        img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 90])


PASSES = 3  # every figure, the decode limit included, is the best of this many timed passes


def rate(batches, passes=PASSES):
    """Images per second of an iterable factory: the best of ``passes`` timed passes (first batch
    of each not timed), after one untimed pass that warms caches, allocations and the page cache."""
    for _ in batches():
        pass
    best = 0.0
    for _ in range(passes):
        it = iter(batches())
        next(it)[0].wait_to_read()
        tic, n = time.time(), 0
        for x in it:
            x = x[0] if isinstance(x, (tuple, list)) else x
            x.wait_to_read()
            n += x.shape[0]
        best = max(best, n / (time.time() - tic))
    return best


def stage_times(rec, batch, threads):
    """Thread time per image in each step of the threads backend's per-image work, measured
    by wrapping the very functions the pipeline calls (ms per image, summed over threads)."""
    import collections
    import threading
    spent, lock = collections.defaultdict(float), threading.Lock()

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            tic = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with lock:
                    spent[name] += time.perf_counter() - tic
        return wrapper

    # Wrapped where the threads backend looks them up.
    steps = {"read": (sources.ImageSource, "read"), "decode the crop's region": (decode, "crop_bgr"),
             "resize+flip": (backends, "resize_and_flip"), "colour jitter": (backends, "jitter_image"),
             "lighting+normalise into the batch": (backends, "normalise_into")}
    originals = {name: getattr(owner, attr) for name, (owner, attr) in steps.items()}
    try:
        for name, (owner, attr) in steps.items():
            setattr(owner, attr, timed(name, originals[name]))
        loader = ThreadedPipeline(rec, batch, threads=threads)
        for _ in loader.epoch(0):  # warm-up pass, then the measured one
            pass
        spent.clear()
        tic, n = time.time(), 0
        for x, _ in loader.epoch(1):
            n += x.shape[0]
        wall = time.time() - tic
    finally:
        for name, (owner, attr) in steps.items():
            setattr(owner, attr, originals[name])
    return {name: spent[name] / n * 1000 for name in steps}, sum(spent.values()) / (threads * wall)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=800)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--work-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "gluon_tricks", "bench_jpeg"))
    args = p.parse_args()

    originals = os.path.join(args.work_dir, "images")
    make_images(originals, args.images)
    prefix = os.path.join(args.work_dir, "train%d" % args.images)
    if not os.path.exists(prefix + ".rec"):
        pack(originals, prefix, quality=95, progress=False)  # no resize: the original 500x375 pixels
    rec = prefix + ".rec"

    reader = mx.recordio.MXIndexedRecordIO(prefix + ".idx", rec, "r")
    records = [mx.recordio.unpack(reader.read_idx(k)) for k in reader.keys]
    reader.close()
    jpegs = [data for _, data in records]
    # The packer re-encodes (quality 95), so the folder backend reads the packed bytes written
    # out as files: both backends and the decode limit decode the very same JPEGs.
    folder = os.path.join(args.work_dir, "packed%d" % args.images)
    for k, (header, data) in enumerate(records):
        path = os.path.join(folder, "c%d" % int(header.label), "%05d.jpg" % k)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    from concurrent.futures import ThreadPoolExecutor
    cv2.setNumThreads(1)

    def decode_all():
        with ThreadPoolExecutor(args.threads) as pool:
            tic = time.time()
            list(pool.map(lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR), jpegs))
            return len(jpegs) / (time.time() - tic)
    decode_all()
    limit = max(decode_all() for _ in range(PASSES))

    ours = RecordPipeline(rec, args.batch, threads=args.threads)
    figures = {"decode limit (cv2.imdecode)": limit}

    figures["ours, ImageRecordIter backend, complete"] = rate(lambda: ours.epoch(0))
    crop_only = RecordPipeline(rec, args.batch, Augment(jitter=0, lighting=0), threads=args.threads)
    figures["ours, ImageRecordIter backend, crop+flip only"] = rate(lambda: crop_only.epoch(0))
    loader_rec = ThreadedPipeline(rec, args.batch, threads=args.threads)
    figures["ours, threads backend over .rec, complete"] = rate(lambda: loader_rec.epoch(0))
    loader_dir = ThreadedPipeline(folder, args.batch, threads=args.threads)
    figures["ours, threads backend over folder, complete"] = rate(lambda: loader_dir.epoch(0))
    region_decoder, decode._jpeg = decode._jpeg, None  # the same loader decoding whole images
    figures["ours, threads backend over .rec, whole-image decode"] = rate(lambda: loader_rec.epoch(0))
    decode._jpeg = region_decoder

    def gluoncv_style():  # one ImageRecordIter with every augmentation, as GluonCV's script sets it
        it = mx.io.ImageRecordIter(
            path_imgrec=rec, path_imgidx=prefix + ".idx", data_shape=(3, 224, 224), batch_size=args.batch,
            shuffle=True, preprocess_threads=args.threads, random_resized_crop=True, min_random_area=0.08,
            max_random_area=1, min_aspect_ratio=3 / 4, max_aspect_ratio=4 / 3, rand_mirror=True, brightness=0.4,
            contrast=0.4, saturation=0.4, pca_noise=0.1,
            **{"mean_" + c: m for c, m in zip("rgb", IMAGENET_MEAN)}, **{"std_" + c: s for c, s in zip("rgb", IMAGENET_STD)})
        for batch in it:
            yield batch.data[0]
    figures["GluonCV-style single ImageRecordIter, complete"] = rate(gluoncv_style)

    def gluon_dataloader():  # GluonCV's folder path: Gluon transforms in a Gluon DataLoader's worker processes
        from mxnet.gluon.data import DataLoader
        from mxnet.gluon.data.vision import ImageFolderDataset, transforms
        augment = transforms.Compose([
            transforms.RandomResizedCrop(224), transforms.RandomFlipLeftRight(),
            transforms.RandomColorJitter(brightness=0.4, contrast=0.4, saturation=0.4), transforms.RandomLighting(0.1),
            transforms.ToTensor(), transforms.Normalize([m / 255 for m in IMAGENET_MEAN], [s / 255 for s in IMAGENET_STD])])
        data = ImageFolderDataset(folder).transform_first(augment)
        return DataLoader(data, batch_size=args.batch, shuffle=True, last_batch="discard", num_workers=args.threads)
    figures["Gluon DataLoader + Gluon transforms (GluonCV's folder path)"] = rate(gluon_dataloader)

    stages, busy = stage_times(rec, args.batch, args.threads)
    machine = machine_info()
    print("%s, %d cores, MXNet %s; %d JPEGs 500x375 (%.0f KB avg), %d threads, batch %d, crop 224"
          % (machine["cpu"], machine["cores"], machine["mxnet"], len(jpegs), np.mean([len(b) for b in jpegs]) / 1024,
             args.threads, args.batch))
    for name, value in figures.items():
        print("  %-52s %7.0f img/s  %5.2f of the decode limit" % (name, value, value / limit))
    print("  threads backend, thread time per image (threads busy %.0f%% of the time):" % (100 * busy))
    for name, ms in stages.items():
        print("    %-40s %6.3f ms  %4.0f%%" % (name, ms, 100 * ms / sum(stages.values())))
    print("    decode limit: %.3f ms per image per thread" % (args.threads / limit * 1000))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "input_pipeline.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.time(), "machine": machine, "threads": args.threads, "batch": args.batch,
                            "images": len(jpegs), "img_per_s": figures,
                            "ratio_to_decode_limit": {k: v / limit for k, v in figures.items()},
                            "dataloader_ms_per_image": stages}) + "\n")


if __name__ == "__main__":
    main()
