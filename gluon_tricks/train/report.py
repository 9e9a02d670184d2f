"""Run records: an append-only JSON-lines log and a PNG of its curves."""
import errno
import json
import os


class JsonLog:
    """Appends one JSON object per line and flushes, so a killed run keeps every record it wrote.
    ``path=None`` writes nothing (distributed workers other than the first)."""

    def __init__(self, path):
        self.path = path
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, record):
        if not self.path:
            return
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
            try:
                if os.write(fd, line) != len(line):
                    raise OSError(errno.ENOSPC, "short write", self.path)
            except OSError:  # a full disk: no half line for a resumed run to trip on
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)


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
