#!/usr/bin/env python
"""The tricks' gain on real data, read off published model pairs: each pair is one network trained
with the bag of tricks and with the paper's baseline for the same epochs. Prints the
table (top-1 without and with flip TTA as ``zoo publish`` measured them on all test images, and the
difference) and draws both test-accuracy curves per pair; reads only the committed zoo files.

Each published pair is one seed. ``--seeds`` measures the gain's spread on a proxy that fits a
session: the 30-epoch pair's two recipes (or the last of ``--pairs``), unchanged but for a narrower
network (``--channels``) and fewer epochs (``--epochs``, the schedule at the same fractions of
training), trained once per
seed (seeds pair the runs: same start, same data order) through the ablation machinery, so
``--record`` lets another machine continue and the table carries the per-seed differences.

    python bench/tricks_vs_baseline.py
    python bench/tricks_vs_baseline.py --seeds 0,1,2 --epochs 14 --channels 16,32,64,128 --jobs 2
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gluon_tricks import ablate  # noqa: E402
from gluon_tricks.train import Recipe  # noqa: E402
from gluon_tricks.train.report import read_log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.join(HERE, "..", "model_zoo")
PAIRS = ["fashion_mnist_resnet9_w32:fashion_mnist_resnet9_w32_baseline",
         "fashion_mnist_resnet9_w32_e30:fashion_mnist_resnet9_w32_e30_baseline",
         "fashion_mnist_resnet9_w32_e56:fashion_mnist_resnet9_w32_e56_baseline"]
PROXY = PAIRS[1]  # the seeds' proxy unless --pairs names others: its recipes keep a weight EMA beside


def published(name):
    """(metrics.json, per-epoch test accuracies in %) of a published model, or None if absent."""
    folder = os.path.join(ZOO, name)
    if not os.path.isfile(os.path.join(folder, "metrics.json")):
        return None
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    return metrics, epoch_curve(os.path.join(folder, "log.jsonl"))


def table(rows):
    lines = ["| pair (tricks / baseline) | epochs | baseline top-1 | tricks top-1 | gain | baseline, flip TTA | "
             "tricks, flip TTA | gain with TTA |", "|---|---|---|---|---|---|---|---|"]
    for tricks, baseline, (mt, _), (mb, _) in rows:
        lines.append("| %s / %s | %d | %.2f | %.2f | **%+.2f** | %.2f | %.2f | %+.2f |" % (
            tricks, baseline, mt["epochs"], 100 * mb["top1"], 100 * mt["top1"], 100 * (mt["top1"] - mb["top1"]),
            100 * mb["tta_flip_top1"], 100 * mt["tta_flip_top1"], 100 * (mt["tta_flip_top1"] - mb["tta_flip_top1"])))
    return "\n".join(lines)


def chart(panels, path, ylim=(88, 96)):
    """One panel per (title, [(label, curves)]): test top-1 by epoch, tricks in blue, baseline in
    orange, one line per curve (a published model, or one seed of the proxy)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels):
        for (label, curves), style in zip(lines, ("o-", "s-")):
            for i, curve in enumerate(curves):
                ax.plot(range(1, len(curve) + 1), curve, style, ms=3, alpha=0.8, color="C%d" % ("tricks" not in label),
                        label=label if i == 0 else None)
        ax.set(title=title, xlabel="epoch", ylabel="test top-1 (%)", ylim=ylim)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def epoch_curve(path):
    return [100 * r["test_acc"] for r in read_log(path) if r.get("kind") == "epoch"]


def proxy_rows(pair, epochs=None, channels=None):
    """[(label, recipe)] of a pair's recipe files (model_zoo/<name>.yaml), baseline first, at
    ``epochs`` (default: the recipes' own) and, given, with the ResNet-9's ``channels``."""
    tricks, _, baseline = pair.partition(":")
    rows = []
    for label, name in (("paper's baseline", baseline), ("bag of tricks", tricks)):
        r = Recipe.load(os.path.join(ZOO, name + ".yaml"))
        r = r.with_epochs(epochs) if epochs else r
        if channels:
            r = Recipe.from_dict(dict(r.to_dict(), model_kwargs=dict(r.model_kwargs, channels=channels)))
        rows.append((label, r))
    return rows


def train_proxy(args):
    pair = args.pairs[-1] if args.pairs != PAIRS else PROXY
    rows = proxy_rows(pair, args.epochs, args.channels)
    results = ablate.run_grid(rows, args.seeds, args.out, record=args.record, jobs=args.jobs)
    summary = ablate.summarise(results)
    logs, curves, ema = os.path.join(args.report, "logs"), {}, {}
    os.makedirs(logs, exist_ok=True)
    for label, _ in rows:  # each run's log is committed beside the record: curves and EMA figures
        for seed in args.seeds:
            kept = os.path.join(logs, "%s-seed%d.jsonl" % (ablate.slug(label), seed))
            source = os.path.join(args.out, ablate.slug(label), "seed%d" % seed, "log.jsonl")
            if os.path.isfile(source):
                shutil.copy(source, kept)
            if os.path.isfile(kept):
                curves.setdefault(label, []).append(epoch_curve(kept))
                last = [r for r in read_log(kept) if r.get("kind") == "epoch"][-1]
                if last.get("ema_test_acc") is not None:
                    ema.setdefault(label, []).append(100 * last["ema_test_acc"])
    epochs = rows[0][1].epochs
    width = " at %s channels" % "-".join(map(str, args.channels)) if args.channels else ""
    title = "%s: their recipes%s, %d epochs, all Fashion-MNIST training images, seeds %s" % (
        pair.replace(":", " / "), width, epochs, ",".join(map(str, args.seeds)))
    command = "python bench/tricks_vs_baseline.py%s --seeds %s%s%s --jobs %d --out %s --report %s --record %s" % (
        " --pairs " + pair if args.pairs != PAIRS else "", ",".join(map(str, args.seeds)),
        " --epochs %d" % args.epochs if args.epochs else "",
        " --channels " + ",".join(map(str, args.channels)) if args.channels else "", args.jobs, args.out,
        os.path.relpath(args.report), os.path.relpath(args.record))
    notes = ["EMA of the weights (%s; logged beside, not the figures above): %s" % (
        label, ", ".join("%.2f" % v for v in values)) for label, values in ema.items()]
    notes += ablate.report_notes(args.record, [label for label, _ in rows], args.seeds, command)
    paths = ablate.write_report(summary, args.report, title, stacked=False, notes=notes)
    network = "%s%s" % (rows[0][1].model, " %s" % json.dumps(rows[0][1].model_kwargs) if rows[0][1].model_kwargs else "")
    chart([("%s, %d epochs%s, seeds %s" % (network, epochs, width, ",".join(map(str, args.seeds))),
            list(curves.items())[::-1])],
          os.path.join(args.report, "curves.png"), ylim=(84, 95))
    print(open(paths["markdown"]).read())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="+", default=PAIRS, metavar="TRICKS:BASELINE",
                        help="published model names, tricks first (default: the ResNet-9 pairs)")
    parser.add_argument("--chart", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                        "tricks_vs_baseline.png"), help="PNG to write")
    parser.add_argument("--seeds", type=lambda v: [int(s) for s in v.split(",")],
                        help="train the 30-epoch pair's proxy (or the last of --pairs) with these seeds (e.g. 0,1,2) instead of reading the zoo")
    parser.add_argument("--epochs", type=int, help="proxy: epochs (default: the recipes' own)")
    parser.add_argument("--channels", type=lambda v: [int(c) for c in v.split(",")],
                        help="proxy: the ResNet-9's four widths (e.g. 16,32,64,128: a quarter of 64-128-256-512)")
    parser.add_argument("--jobs", type=int, default=1, help="proxy: runs at once (see ablate.py --jobs)")
    parser.add_argument("--out", default="runs/tricks_pair", help="proxy: where the runs go")
    parser.add_argument("--report", default=os.path.join(HERE, "ablation", "tricks_pair"),
                        help="proxy: where table.md, table.csv and chart.png go")
    parser.add_argument("--record", default=os.path.join(HERE, "ablation", "tricks_pair", "runs.jsonl"),
                        help="proxy: JSON lines of finished runs (committed; a rerun continues from it)")
    args = parser.parse_args(argv)
    if args.seeds:
        return train_proxy(args)
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
    chart([("%s, %d epochs" % (tricks.replace("fashion_mnist_", ""), len(ct)), [("bag of tricks", [ct]),
           ("paper's baseline", [cb])]) for tricks, _, (_, ct), (_, cb) in rows], args.chart)
    print("\nchart: %s" % os.path.relpath(args.chart))


if __name__ == "__main__":
    main()
