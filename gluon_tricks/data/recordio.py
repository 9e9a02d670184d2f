"""Pack image folders or ``.lst`` files into RecordIO (``.rec`` + ``.idx`` + ``.lst``) and check them.

The files are MXNet's own format (``mx.recordio.MXIndexedRecordIO`` records holding an
``IRHeader`` and a JPEG), so ``mx.io.ImageRecordIter`` and ``im2rec.py`` interoperate with them.
"""
import json
import os
import struct

import numpy as np

from ..notice import notice
from ..errors import RUN_FAILED, USAGE, BadInput, InputNotFound

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
RECORD_MAGIC = 0xced7230a  # dmlc RecordIO
IR_HEADER = struct.Struct("<IfQQ")  # MXNet's IRHeader: flag, label, id, id2


class RecordFileError(BadInput):
    """A .rec/.idx/.lst file is truncated or inconsistent."""
    status = RUN_FAILED


class RecordFileMissing(RecordFileError, InputNotFound):
    """A .rec/.idx/.lst file or image folder named is not there."""
    status = USAGE


def classes_path(prefix):
    return prefix + ".classes.json"


def scan_folder(root):
    """``(entries, classes)`` for ``root/<class>/<image>``: class ids follow sorted folder names,
    images sorted within a class; entries are ``(index, label, path relative to root)``."""
    if not os.path.isdir(root):
        raise RecordFileMissing("image folder %s does not exist" % root)
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise RecordFileError("%s has no class folders; expected root/<class>/<image>" % root)
    entries = []
    for label, name in enumerate(classes):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, name))):
            for f in sorted(files):
                if f.lower().endswith(IMAGE_EXTENSIONS):
                    entries.append((len(entries), label, os.path.relpath(os.path.join(dirpath, f), root)))
    if not entries:
        raise RecordFileError("no images (%s) under %s" % (", ".join(IMAGE_EXTENSIONS), root))
    return entries, classes


def read_lst(path):
    """Entries ``(index, label, relpath)`` of an im2rec ``.lst`` file (index, label(s), path; tab-separated)."""
    if not os.path.isfile(path):
        raise RecordFileMissing("list file %s does not exist" % path)
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            try:
                entries.append((int(parts[0]), float(parts[1]), parts[-1]))
                if len(parts) < 3:
                    raise ValueError
            except ValueError:
                raise RecordFileError("%s line %d is not 'index<TAB>label<TAB>path': %r" % (path, n, line[:80])) from None
    return entries


def write_lst(path, entries):
    with open(path, "w") as f:
        for index, label, rel in entries:
            f.write("%d\t%f\t%s\n" % (index, label, rel))


def encode_image(path, resize=0, quality=95):
    """JPEG bytes of the image at ``path`` as 3-channel colour (grayscale, CMYK and alpha are
    converted), the shorter side resized to ``resize`` if given; raises ValueError if unreadable."""
    import cv2
    raw = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if img is None:
        raise BadInput("not a readable image")
    if resize:
        h, w = img.shape[:2]
        scale = resize / min(h, w)
        if scale != 1:
            img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadInput("JPEG encoding failed")
    return buf.tobytes()


def _encode_entry(job):
    (index, label, rel), root, resize, quality = job
    try:
        return index, label, rel, encode_image(os.path.join(root, rel), resize, quality), None
    except (ValueError, OSError) as err:
        return index, label, rel, None, str(err)


def pack(source, prefix, root=None, resize=0, quality=95, workers=None, progress=True):
    """Write ``prefix.rec``, ``.idx``, ``.lst`` (and ``.classes.json`` for a folder) from an image
    folder tree or an im2rec ``.lst`` file (paths relative to ``root``, default: the list's folder).

    Images are decoded, converted to 3-channel colour and re-encoded as JPEG in ``workers``
    processes. Unreadable images are skipped, warned about and listed in the returned summary.
    The outputs appear only when complete (written under temporary names, then renamed)."""
    import multiprocessing

    import mxnet as mx
    from tqdm import tqdm

    if os.path.isdir(source):
        entries, classes = scan_folder(source)
        root = source
    else:
        entries, classes = read_lst(source), None
        root = root if root is not None else os.path.dirname(os.path.abspath(source))
    if not 1 <= quality <= 100:
        raise BadInput("JPEG quality must be in 1..100, got %r" % quality)
    out_dir = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(out_dir, exist_ok=True)
    tmp = prefix + ".partial"
    writer = mx.recordio.MXIndexedRecordIO(tmp + ".idx", tmp + ".rec", "w")
    written, skipped = [], []
    jobs = [(e, root, resize, quality) for e in entries]
    workers = workers or os.cpu_count() or 1
    try:
        with multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else _Serial() as pool:
            for index, label, rel, data, error in tqdm(pool.imap(_encode_entry, jobs, chunksize=8), total=len(jobs),
                                                       desc="packing", unit="img", disable=not progress):
                if data is None:
                    skipped.append((rel, error))
                    notice("skipped %s: %s" % (os.path.join(root, rel), error))
                    continue
                header = mx.recordio.IRHeader(0, label, index, 0)
                writer.write_idx(index, mx.recordio.pack(header, data))
                written.append((index, label, rel))
    except BaseException:
        writer.close()
        for ext in (".idx", ".rec"):
            if os.path.exists(tmp + ext):
                os.remove(tmp + ext)
        raise
    writer.close()
    if not written:
        raise RecordFileError("no image under %s could be read; nothing written" % root)
    write_lst(tmp + ".lst", written)
    for ext in (".rec", ".idx", ".lst"):
        os.replace(tmp + ext, prefix + ext)
    if classes is not None:
        with open(classes_path(prefix), "w") as f:
            json.dump({"classes": classes, "source": os.path.abspath(root)}, f, indent=1)
    return {"rec": prefix + ".rec", "idx": prefix + ".idx", "lst": prefix + ".lst", "written": len(written),
            "skipped": skipped, "classes": classes}


class _Serial:
    """A one-process stand-in for ``Pool`` (workers=1)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap(self, fn, jobs, chunksize=1):
        return map(fn, jobs)


def read_idx(path):
    """``{record index: byte offset}`` from an ``.idx`` file."""
    offsets = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                key, offset = line.split("\t")
                offsets[int(key)] = int(offset)
            except ValueError:
                raise RecordFileError("%s line %d is not 'index<TAB>offset'" % (path, n)) from None
    return offsets


def scan_records(rec, idx=None, extents=False):
    """``(keys, labels)`` of ``rec`` after a structural check done before MXNet reads it (MXNet
    aborts the process on a bad file): both files exist, every offset in ``idx`` points at a
    record header inside ``rec`` and every record is complete. Reads 32 bytes per record.
    ``extents=True`` adds each image's ``(byte offset, length)`` (None for a record MXNet split
    in parts), so a reader can fetch it in one call."""
    if not os.path.isfile(rec):
        raise RecordFileMissing("record file %s does not exist" % rec)
    idx = idx or os.path.splitext(rec)[0] + ".idx"
    if not os.path.isfile(idx):
        raise RecordFileMissing("index file %s for %s does not exist; rebuild it with scripts/pack.py"
                              % (idx, rec))
    offsets = read_idx(idx)
    if not offsets:
        raise RecordFileError("index file %s is empty" % idx)
    size = os.path.getsize(rec)
    keys, labels, where = [], [], []
    with open(rec, "rb") as f:
        for key, offset in offsets.items():
            if offset + 8 + IR_HEADER.size > size:
                raise RecordFileError("%s is truncated: record %d starts at byte %d of %d (or %s belongs to "
                                      "another file)" % (rec, key, offset, size, idx))
            f.seek(offset)
            magic, lrec = struct.unpack("<II", f.read(8))
            if magic != RECORD_MAGIC:
                raise RecordFileError("%s has no record at byte %d (record %d of %s): wrong or corrupt index"
                                      % (rec, offset, key, idx))
            length = lrec & ((1 << 29) - 1)
            if offset + 8 + length > size:
                raise RecordFileError("%s is truncated inside record %d (needs %d bytes, the file has %d)"
                                      % (rec, key, offset + 8 + length, size))
            flag, label, _, _ = IR_HEADER.unpack(f.read(IR_HEADER.size))
            if flag > 0:  # several labels follow the header; the first is the class
                label = struct.unpack("<f", f.read(4))[0]
            keys.append(key)
            labels.append(label)
            skip = IR_HEADER.size + 4 * max(flag, 0)
            where.append(None if lrec >> 29 else (offset + 8 + skip, length - skip))
    return (keys, labels, where) if extents else (keys, labels)
