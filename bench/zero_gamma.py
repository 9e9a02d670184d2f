#!/usr/bin/env python
"""Why zero-gamma costs accuracy on Fashion-MNIST: the same runs with and without it, with and
without weight decay on BN parameters, under step decay and cosine, and with 4x the steps
(batch 32), tracing the residual branches' last BN gammas.

Each configuration is the ablation's paper baseline (cifar_resnet20_v1, step decay /10 at 1/4,
1/2, 3/4, no warmup, plain cross-entropy, weight decay 5e-4 on every weight) with one or two
changes; every run logs the mean |gamma| of the zero-initialised BNs (each unit's bn2) and of
all other BNs every 10 steps into param_stats.jsonl. Finished runs under --out, or
listed in the report folder's runs.jsonl (committed), are reused: the grid can be finished in
parts, on several machines.

    python bench/zero_gamma.py --out runs/zero_gamma --seeds 0,1 --epochs 12 --train-samples 10000
    python bench/zero_gamma.py --out runs/zero_gamma_36ep --seeds 0 --epochs 36 --rows "cosine,cosine + zero gamma" \
        --report bench/ablation/zero_gamma_36ep
"""
import argparse
import json
import os
import shutil

import gluon_tricks  # noqa: F401  (sets OMP_NUM_THREADS before MXNet loads)
from gluon_tricks import ablate
from gluon_tricks.train import ParamStats, Recipe

HERE = os.path.dirname(os.path.abspath(__file__))
COSINE = {"lr_mode": "cosine", "lr_decay_epochs": ()}
GRID = [
    ("baseline", {"model": "@v1"}),
    ("zero gamma", {"last_gamma": True}),
    ("zero gamma + no BN/bias decay", {"last_gamma": True, "no_wd": True}),  # is it weight decay holding gammas down?
    ("cosine", COSINE),                                                     # or the short high-lr phase of step decay?
    ("cosine + zero gamma", dict(COSINE, last_gamma=True)),
    ("batch 32", {"batch_size": 32, "lr": 0.025}),                             # or the number of steps?
    ("batch 32 + zero gamma", {"batch_size": 32, "lr": 0.025, "last_gamma": True}),
]
GROUPS = {"zeroed_gamma": r"^layer\d+\.\d+\.bn2\.gamma$",                   # last BN of each residual branch
          "other_gamma": r"^(?!layer\d+\.\d+\.bn2\.).*gamma$"}                # stem, first BNs, projections


def keep_traces(out, report, rows, seeds):
    """Copy each run's param_stats.jsonl into the report folder (committed with the tables)."""
    os.makedirs(os.path.join(report, "traces"), exist_ok=True)
    for label, _ in rows:
        for seed in seeds:
            source = os.path.join(out, ablate.slug(label), "seed%d" % seed, "param_stats.jsonl")
            if os.path.isfile(source):
                shutil.copy(source, os.path.join(report, "traces", "%s-seed%d.jsonl" % (ablate.slug(label), seed)))


def traces(report, label, seeds):
    """{seed: [records of param_stats.jsonl]} of a row's runs."""
    found = {}
    for seed in seeds:
        path = os.path.join(report, "traces", "%s-seed%d.jsonl" % (ablate.slug(label), seed))
        if os.path.isfile(path):
            found[seed] = [json.loads(line) for line in open(path)]
    return found


def chart(report, rows, seeds, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:gray", "tab:brown"]
    for (label, recipe), color in zip(rows, colors):
        steps_per_epoch = -(-recipe.train_samples // recipe.batch_size)
        for seed, records in traces(report, label, seeds).items():
            steps = [r["step"] / steps_per_epoch for r in records if "epoch" not in r or r["step"] == 0]
            for ax, key in zip(axes, ("zeroed_gamma", "other_gamma")):
                values = [r[key] for r in records if "epoch" not in r or r["step"] == 0]
                ax.plot(steps, values, color=color, alpha=0.8, lw=1, label=label if seed == seeds[0] else None)
    for ax, title in zip(axes, ("mean |gamma| of each unit's last BN (bn2)", "mean |gamma| of the other BNs")):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/zero_gamma")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--train-samples", type=int, default=10000)
    p.add_argument("--rows", help="comma-separated labels to train (default: all; each row is the baseline with its "
                                  "changes, the baseline itself runs only when listed; the table compares with the "
                                  "first row trained)")
    p.add_argument("--report", default=os.path.join(HERE, "ablation", "zero_gamma"), help="where tables and charts go")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    base = Recipe(dataset="fashion-mnist", epochs=args.epochs, train_samples=args.train_samples, log_interval=20)
    wanted = args.rows.split(",") if args.rows else [label for label, _ in GRID]
    unknown = sorted(set(wanted) - {label for label, _ in GRID})
    if unknown:
        p.error("unknown row(s) %s; rows are: %s" % (unknown, ", ".join(label for label, _ in GRID)))
    rows = [(label, r) for label, r in ablate.row_recipes(base, GRID, independent=True) if label in wanted]
    record = os.path.join(args.report, "runs.jsonl")
    results = ablate.run_grid(rows, seeds, args.out, echo=lambda s: print(s, flush=True),
                              hooks=lambda: [ParamStats(GROUPS, every=10)],
                              record=record)
    summary = ablate.summarise(results)
    keep_traces(args.out, args.report, rows, seeds)
    done = ablate.read_record(record)
    for s in summary:
        s["final_train_loss"] = [round(done[(s["row"], seed)]["final_train_loss"], 4) for seed in seeds]
        ends = [t[-1] for t in traces(args.report, s["row"], seeds).values()]
        s["final_zeroed_gamma"] = [round(t["zeroed_gamma"], 4) for t in ends]
        s["final_other_gamma"] = [round(t["other_gamma"], 4) for t in ends]
    os.makedirs(args.report, exist_ok=True)
    title = "zero gamma on cifar_resnet20_v1, fashion-mnist, %d epochs, %d training images, seeds %s%s" % (
        args.epochs, args.train_samples, args.seeds, ", against %s" % rows[0][0] if rows[0][0] != "baseline" else "")
    command = "python bench/zero_gamma.py --out %s --seeds %s --epochs %d --train-samples %d%s --report %s" % (
        args.out, args.seeds, args.epochs, args.train_samples, ' --rows "%s"' % args.rows if args.rows else "",
        os.path.relpath(args.report))
    notes = ablate.report_notes(record, [label for label, _ in rows], seeds, command)
    paths = ablate.write_report(summary, args.report, title, notes=notes)
    chart(args.report, rows, seeds, os.path.join(args.report, "gammas.png"))
    with open(os.path.join(args.report, "summary.json"), "w") as f:
        json.dump({"machines": [n[len("Machine: "):] for n in notes if n.startswith("Machine: ")], "command": command,
                   "recipes": {label: r.to_dict() for label, r in rows}, "rows": summary}, f, indent=1)
    for s in summary:
        print("%-32s %.2f +- %.2f  train loss %s  |gamma| zeroed %s other %s" % (
            s["row"], s["mean"], s["std"], s["final_train_loss"], s["final_zeroed_gamma"], s["final_other_gamma"]))
    print("wrote", ", ".join(sorted(paths.values())))


if __name__ == "__main__":
    main()
