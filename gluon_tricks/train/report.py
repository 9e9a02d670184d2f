"""Run records: an append-only JSON-lines log, the same numbers as TensorBoard event files, and a
PNG of the curves."""
import errno
import itertools
import json
import os
import socket
import struct
import time


def append(path, data):
    """Appends bytes in one write; on a full disk the file is cut back to where it was, so a resumed
    run never trips on half a record."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, "short write", path)
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


class JsonLog:
    """Appends one JSON object per line and flushes, so a killed run keeps every record it wrote.
    ``path=None`` writes nothing (distributed workers other than the first)."""

    def __init__(self, path):
        self.path = path
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, record):
        if self.path:
            append(self.path, (json.dumps(record, sort_keys=True) + "\n").encode())


def _crc32c_table():
    table = []
    for n in range(256):
        for _ in range(8):
            n = (n >> 1) ^ 0x82F63B78 if n & 1 else n >> 1
        table.append(n)
    return table


_CRC32C = _crc32c_table()


def masked_crc32c(data):
    """TFRecord's checksum: CRC-32C (Castagnoli), rotated and offset."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_event(wall_time, step, scalars=None, file_version=None):
    """One tensorflow.Event message: wall_time (1, double), step (2, int64), file_version (3) or a
    summary (5) of simple_value scalars (Summary.value = 1; Value.tag = 1, simple_value = 2)."""
    event = b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step)
    if file_version:
        event += _field(3, file_version.encode())
    if scalars:
        values = b"".join(_field(1, _field(1, tag.encode()) + b"\x15" + struct.pack("<f", value))
                          for tag, value in scalars.items())
        event += _field(5, values)
    return event


def tfrecord(data):
    """TFRecord framing: length, its checksum, the data, its checksum."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


class EventLog:
    """The log's records as TensorBoard scalars, in an event file of its own per process (so a
    resumed run adds a file beside the first): each interval's numbers under ``interval/`` at its
    iteration, each epoch's under ``epoch/`` at the number of epochs done. ``folder=None`` writes
    nothing. Written here, with no TensorFlow or tensorboard package needed to write it."""
    STEPS = {"interval": ("iter", 0), "epoch": ("epoch", 1)}  # record kind: (its step field, offset)
    NOT_SCALARS = {"kind", "epoch", "iter", "epoch_float"}
    _files = itertools.count()  # this process's event files, so two runs in one second get two

    def __init__(self, folder):
        self.path = None
        if folder:
            os.makedirs(folder, exist_ok=True)
            self.path = os.path.join(folder, "events.out.tfevents.%010d.%s.%d.%d" % (
                time.time(), socket.gethostname(), os.getpid(), next(self._files)))
            append(self.path, tfrecord(encode_event(time.time(), 0, file_version="brain.Event:2")))

    def write(self, record):
        if not self.path or record.get("kind") not in self.STEPS:
            return
        field, offset = self.STEPS[record["kind"]]
        scalars = {"%s/%s" % (record["kind"], k): float(v) for k, v in sorted(record.items())
                   if k not in self.NOT_SCALARS and isinstance(v, (int, float)) and not isinstance(v, bool)}
        append(self.path, tfrecord(encode_event(time.time(), int(record[field]) + offset, scalars)))


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def time_to_accuracy(records, targets):
    """{target: wall seconds from the process's start to the end of the first evaluation at or above
    it, or None}, from a log's epoch records (their ``wall_time``)."""
    epochs = [r for r in records if r.get("kind") == "epoch" and "wall_time" in r and "test_acc" in r]
    return {t: next((r["wall_time"] for r in epochs if r["test_acc"] >= t), None) for t in targets}


def seed_summary(finals, walls, target=0.94):
    """A recipe over several seeds, stated as airbench states it: the mean final accuracy and its
    spread (sample std, min, max), the share of seeds at or above ``target``, and the median process
    wall time. ``finals``: each seed's final accuracy (0-1); ``walls``: each seed's wall seconds."""
    import statistics
    if not finals or len(finals) != len(walls):
        raise ValueError("one final accuracy and one wall time per seed, got %d and %d" % (len(finals), len(walls)))
    return {"seeds": len(finals), "mean": statistics.fmean(finals),
            "std": statistics.stdev(finals) if len(finals) > 1 else 0.0, "min": min(finals), "max": max(finals),
            "target": target, "share_at_target": sum(f >= target for f in finals) / len(finals),
            "median_wall": statistics.median(walls)}


def plot_curves(log_path, png_path):
    """Loss, accuracy and learning rate against epoch, from the log's records."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(log_path)
    steps = [r for r in records if r.get("kind") == "interval"]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(14, 4))
    if steps:
        ax_loss.plot([r["epoch_float"] for r in steps], [r["loss"] for r in steps], lw=0.8, label="train, smoothed targets (interval)")
        ax_lr.plot([r["epoch_float"] for r in steps], [r["lr"] for r in steps])
    if epochs:
        x = [r["epoch"] + 1 for r in epochs]
        ax_loss.plot(x, [r["train_loss"] for r in epochs], "o-", label="train, smoothed targets (epoch)")
        tested = [r for r in epochs if "test_acc" in r]
        ax_loss.plot([r["epoch"] + 1 for r in tested], [r["test_loss"] for r in tested], "s-", label="test (plain CE)")
        ax_acc.plot(x, [100 * r["train_acc"] for r in epochs], "o-", label="train")
        ax_acc.plot([r["epoch"] + 1 for r in tested], [100 * r["test_acc"] for r in tested], "s-", label="test")
    ax_loss.set(title="loss", xlabel="epoch")
    ax_acc.set(title="top-1 accuracy (%)", xlabel="epoch")
    ax_lr.set(title="learning rate", xlabel="epoch")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    ax_lr.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png_path + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, png_path)
