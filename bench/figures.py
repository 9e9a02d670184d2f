#!/usr/bin/env python
"""The results pages' figures, drawn from the benchmark records at every docs build (docs/conf.py
calls :func:`draw_all`), so a figure always shows what its record holds.

  python bench/figures.py OUT_DIR     # the same PNGs, by hand

* ``time_to_accuracy.png``: test accuracy against wall time for each run of the newest
  ``bench/time_to_accuracy.py`` record that timed GluonCV's recipe beside ours.
* ``tricks_per_seed.png``: each seed's baseline and bag-of-tricks accuracy, for every paired
  study in ``bench/ablation/tricks_pair*/runs.jsonl``.
* ``accuracy_by_epochs.png``: test accuracy after each epoch of ResNet-9 trained with the bag of tricks
  for different numbers of epochs and widths (the published models' logs and the accuracy-limit runs').
* ``speed_per_cpu.png``: ours / GluonCV's loop (``trainer_vs_gluoncv.jsonl``) and ours / PyTorch
  torch.compile in training (``pytorch_compare.jsonl``), the newest record per model and CPU.
"""
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _cpu(record):
    machine = record["machine"]
    return "%s%s" % (machine["cpu"].replace("(R)", "").replace(" Processor", ""),
                     " (AVX-512)" if machine.get("avx512f") else " (AVX2)")


def _evaluations(run):
    """(minutes since the process started, top-1 %) of each evaluated epoch of a timed run."""
    return [(e["wall_time"] / 60, 100 * e["test_acc"]) for e in run["epochs"] if "test_acc" in e]


def time_to_accuracy(plt, out):
    runs = [r for r in _records(os.path.join(HERE, "results", "time_to_accuracy.jsonl"))
            if any(run.get("side") == "gluoncv" for run in r.get("runs", ()))]
    record = runs[-1]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ours = [run for run in record["runs"] if run["side"] == "ours"]
    fields = record["recipe"].get("fields", {})  # what ran: a recipe file may have changed since
    name = ("%d epochs, %s px" % (fields["epochs"], "-".join(map(str, sorted(set(fields["train_sizes"])))))
            if fields.get("train_sizes") else os.path.basename(record["recipe"]["file"]))
    dtypes = "/".join(sorted({run.get("dtype", "float32") for run in ours}))
    for run in ours if len(ours) <= 3 else ():  # a few seeds: a line each
        ax.plot(*zip(*_evaluations(run)), marker="o", markersize=9, alpha=0.8,
                label="ours (%s, %s), seed %d" % (name, dtypes, run["seed"]))
    if len(ours) > 3:  # many seeds: where each ended, one series
        ends = [(run["epochs"][-1]["wall_time"] / 60, 100 * run["epochs"][-1]["test_acc"]) for run in ours]
        ax.plot(*zip(*ends), linestyle="none", marker="o", markersize=7, alpha=0.7,
                label="ours (%s, %s), seeds %d-%d: end of each run" % (name, dtypes, ours[0]["seed"], ours[-1]["seed"]))
    for run in record["runs"]:
        if run["side"] == "gluoncv":
            ax.plot(*zip(*_evaluations(run)), marker="o", markersize=4, color="black",
                    label="GluonCV's CIFAR recipe (cifar_resnet20_v1), seed %d" % run["seed"])
    ax.axhline(94, color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="wall time from the process's start (min)", ylabel="test top-1 (%), all 10,000 images",
           ylim=(85, 95), title="Fashion-MNIST, %s%s, 2 cores" % (_cpu(record), ", AMX tiles on" if record["machine"].get("amx") else ""))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def tricks_per_seed(plt, out):
    studies = sorted(glob.glob(os.path.join(HERE, "ablation", "tricks_pair*", "runs.jsonl")))
    fig, axes = plt.subplots(1, len(studies), figsize=(4 * len(studies), 3.8), squeeze=False)
    for ax, path in zip(axes[0], studies):
        by_seed = {}
        for r in _records(path):
            by_seed.setdefault(r["seed"], {})[r["row"]] = 100 * r["final_test_acc"]
        model = _records(path)[0]["recipe"]["model"]
        epochs = _records(path)[0]["recipe"]["epochs"]
        for seed, rows in sorted(by_seed.items()):
            ys = [rows["paper's baseline"], rows["bag of tricks"]]
            ax.plot([0, 1], ys, marker="o", label="seed %d" % seed)
        ax.set(xticks=[0, 1], xticklabels=["paper's baseline", "bag of tricks"], xlim=(-0.3, 1.3),
               ylabel="test top-1 (%)", title="%s, %d epochs" % (model, epochs))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


BUDGET_RUNS = (("half width, 20 epochs", "-", "model_zoo/fashion_mnist_resnet9_w32/log.jsonl"),
               ("half width, 30 epochs", "-", "model_zoo/fashion_mnist_resnet9_w32_e30/log.jsonl"),
               ("half width, 56 epochs", "-", "model_zoo/fashion_mnist_resnet9_w32_e56/log.jsonl"),
               ("half width, 150 epochs, bfloat16", "-", "bench/ablation/accuracy_limit/w32_e150_bf16_log.jsonl"),
               ("quarter width, 56 epochs", "--", "bench/ablation/accuracy_limit/w16_e56_log.jsonl"))


def accuracy_by_epochs(plt, out):
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for label, line, path in BUDGET_RUNS:
        log = os.path.join(HERE, os.pardir, path)
        if not os.path.isfile(log):
            continue
        epochs = [r for r in _records(log) if r.get("kind") == "epoch" and "test_acc" in r]
        points = [(e["epoch"] + 1, 100 * e["test_acc"]) for e in epochs]
        ax.plot(*zip(*points), marker="o", markersize=3, linestyle=line,
                label="%s: last %.2f%%" % (label, points[-1][1]))
    ax.axhline(96, color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="epoch", ylabel="test top-1 (%), all 10,000 images", ylim=(90, 96.5),
           title="ResNet-9 with the bag of tricks on Fashion-MNIST, seed 0")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def speed_per_cpu(plt, out):
    bars = {}  # (cpu, label) -> ratio: the newest record wins
    for r in _records(os.path.join(HERE, "results", "trainer_vs_gluoncv.jsonl")):
        a = r["args"]
        model = "%s, %d px, %d classes" % (a["model"], a["size"], a["classes"])  # the head changes the ratio
        bars[(_cpu(r), "%s: ours / GluonCV's loop" % model)] = r["ratio"]
        if "ours+" in r["img_per_s"]:
            bars[(_cpu(r), "%s, fused BN+ReLU: ours / GluonCV's loop" % model)] = \
                r["img_per_s"]["ours+"] / r["img_per_s"]["gluoncv"]
    for r in _records(os.path.join(HERE, "results", "pytorch_compare.jsonl")):
        a = r["args"]
        ours, theirs = r["ours"]["ours float32"].get("train_img_per_s"), r["pytorch"]["compile"].get("train_img_per_s")
        if ours and theirs:
            bars[(_cpu(r), "%s, %d px: ours / torch.compile" % (a["model"], a["size"]))] = ours / theirs
    cpus = sorted({cpu for cpu, _ in bars})
    fig, axes = plt.subplots(len(cpus), 1, figsize=(8, 0.45 * len(bars) + 1.2 * len(cpus)), squeeze=False)
    for ax, cpu in zip(axes[:, 0], cpus):
        items = sorted((label, ratio) for (c, label), ratio in bars.items() if c == cpu)
        ax.barh([label for label, _ in items], [ratio for _, ratio in items], color="tab:blue")
        ax.axvline(1.0, color="black", linewidth=1)
        for i, (_, ratio) in enumerate(items):
            ax.text(ratio, i, " %.2fx" % ratio, va="center", fontsize=8)
        ax.set_title("%s: training speed, float32, 2 cores" % cpu, fontsize=10, loc="right")
        ax.set(xlim=(0, max(r for _, r in items) * 1.2))
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


FIGURES = {"time_to_accuracy.png": time_to_accuracy, "tricks_per_seed.png": tricks_per_seed,
           "accuracy_by_epochs.png": accuracy_by_epochs, "speed_per_cpu.png": speed_per_cpu}


def draw_all(out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    for name, draw in FIGURES.items():
        draw(plt, os.path.join(out_dir, name))
    return sorted(FIGURES)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    print("\n".join(draw_all(sys.argv[1])))
