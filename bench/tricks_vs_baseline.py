#!/usr/bin/env python
"""The tricks' gain on real data, read off published model pairs: each pair is one network trained
with the bag of tricks and with the paper's baseline for the same epochs (issue 14). Prints the
table (top-1 without and with flip TTA as ``zoo publish`` measured them on all test images, and the
difference) and draws both test-accuracy curves per pair; reads only the committed zoo files.

    python bench/tricks_vs_baseline.py
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gluon_tricks.train.report import read_log  # noqa: E402

ZOO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model_zoo")
PAIRS = ["fashion_mnist_resnet9_w32:fashion_mnist_resnet9_w32_baseline",
         "fashion_mnist_resnet9_w32_e30:fashion_mnist_resnet9_w32_e30_baseline"]


def published(name):
    """(metrics.json, per-epoch test accuracies in %) of a published model, or None if absent."""
    folder = os.path.join(ZOO, name)
    if not os.path.isfile(os.path.join(folder, "metrics.json")):
        return None
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    curve = [100 * r["test_acc"] for r in read_log(os.path.join(folder, "log.jsonl")) if r.get("kind") == "epoch"]
    return metrics, curve


def table(rows):
    lines = ["| pair (tricks / baseline) | epochs | baseline top-1 | tricks top-1 | gain | baseline, flip TTA | "
             "tricks, flip TTA | gain with TTA |", "|---|---|---|---|---|---|---|---|"]
    for tricks, baseline, (mt, _), (mb, _) in rows:
        lines.append("| %s / %s | %d | %.2f | %.2f | **%+.2f** | %.2f | %.2f | %+.2f |" % (
            tricks, baseline, mt["epochs"], 100 * mb["top1"], 100 * mt["top1"], 100 * (mt["top1"] - mb["top1"]),
            100 * mb["tta_flip_top1"], 100 * mt["tta_flip_top1"], 100 * (mt["tta_flip_top1"] - mb["tta_flip_top1"])))
    return "\n".join(lines)


def chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(rows), figsize=(6 * len(rows), 4), squeeze=False)
    for ax, (tricks, baseline, (_, ct), (_, cb)) in zip(axes[0], rows):
        ax.plot(range(1, len(ct) + 1), ct, "o-", label="bag of tricks")
        ax.plot(range(1, len(cb) + 1), cb, "s-", label="paper's baseline")
        ax.set(title="%s, %d epochs" % (tricks.replace("fashion_mnist_", ""), len(ct)), xlabel="epoch",
               ylabel="test top-1 (%)", ylim=(88, 96))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="+", default=PAIRS, metavar="TRICKS:BASELINE",
                        help="published model names, tricks first (default: the ResNet-9 pairs)")
    parser.add_argument("--chart", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                        "tricks_vs_baseline.png"), help="PNG to write")
    args = parser.parse_args(argv)
    rows = []
    for pair in args.pairs:
        tricks, _, baseline = pair.partition(":")
        found = published(tricks), published(baseline)
        if None in found:
            print("skipped %s: %s is not published" % (pair, tricks if found[0] is None else baseline))
            continue
        rows.append((tricks, baseline) + found)
    if not rows:
        sys.exit("no published pair to compare")
    print(table(rows))
    chart(rows, args.chart)
    print("\nchart: %s" % os.path.relpath(args.chart))


if __name__ == "__main__":
    main()
