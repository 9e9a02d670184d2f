"""Ablation of the tricks, the way the paper's Table 6 reads: rows that each add one trick to the
row above (or, ``independent``, to the baseline alone), each trained with several seeds, then a
table of mean and spread and a bar chart. A grid is data: (label, recipe changes) pairs.

Runs are ordinary training runs under ``out/<row>/seed<k>``; a run whose log is complete is
reused, so an interrupted ablation continues where it stopped."""
import csv
import dataclasses
import json
import os
import re

import numpy as np

from .models import model_settings
from .zoo import architecture
from .zoo import names as zoo_names
from .train import Recipe, fit
from .train.report import read_log

# The paper's baseline (Section 2): step decay (/10 at 1/4, 1/2 and 3/4 of training: epochs 30,
# 60, 90 of 120), no warmup, plain cross-entropy, decay on every weight; the model is the A
# variant of the recipe's family.
PAPER_STEPS = (0.25, 0.5, 0.75)
BASELINE = dict(lr_mode="step", lr_decay=0.1, warmup_epochs=0.0, label_smoothing=0.0, mixup_alpha=0.0, cutmix_alpha=0.0,
                no_wd=False, last_gamma=False, teacher=None, teacher_params=None)
TWEAKS = ("v1b", "v1c", "v1d")
GRID = [  # (label, changes); "@v1x" swaps the model's variant suffix
    ("baseline", {"model": "@v1"}),
    ("+ B tweak", {"model": "@v1b"}),
    ("+ C tweak", {"model": "@v1c"}),
    ("+ D tweak", {"model": "@v1d"}),
    ("+ cosine + warmup", {"lr_mode": "cosine", "lr_decay_epochs": (), "warmup_epochs": "@warmup"}),
    ("+ label smoothing", {"label_smoothing": 0.1}),
    ("+ mixup", {"mixup_alpha": 0.2}),
    ("+ zero gamma", {"last_gamma": True}),
    ("+ no bias decay", {"no_wd": True}),
    ("+ distillation", {"teacher": "@teacher", "teacher_params": "@teacher_params", "temperature": 1.0,
                        "hard_weight": 0.5}),
]


def variant(model, tag):
    """``cifar_resnet20_v1d`` with tag ``v1b`` -> ``cifar_resnet20_v1b``."""
    stem = re.sub(r"_v\d[a-z]?$", "", model)
    return "%s_%s" % (stem, tag)


def row_recipes(base, grid=GRID, independent=False, teacher=None, teacher_params=None):
    """[(label, recipe)]: the first row's changes on the paper's baseline, then each row's changes on
    the row above (``independent``: on the first row)."""
    steps = tuple(round(f * base.epochs, 3) for f in PAPER_STEPS)
    baseline = dataclasses.replace(base, lr_decay_epochs=steps, **BASELINE)
    fills = {"@warmup": max(0.1, min(1.0, base.epochs / 10)), "@teacher": teacher, "@teacher_params": teacher_params}
    rows, previous = [], baseline
    for label, changes in grid:
        values = {}
        for key, value in changes.items():
            if isinstance(value, str) and value.startswith("@v"):
                value = variant(base.model, value[1:])
            values[key] = fills.get(value, value) if isinstance(value, str) else value
        if values.get("teacher") and not values.get("teacher_params") and values["teacher"] not in zoo_names():
            raise ValueError("the distillation row needs teacher weights: a published --teacher, --teacher-params, "
                             "or --train-teacher")
        recipe = dataclasses.replace(rows[0][1] if independent and rows else previous, **values)
        rows.append((label, recipe.validate()))
        previous = recipe
    return rows


def slug(label):
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "row"


def run_grid(rows, seeds, out, progress=False, echo=print, hooks=list):
    """Train every (row, seed) not already done under ``out``; returns {label: [accuracy per seed]}.
    ``hooks()`` makes each run's extra hooks (fresh ones: hooks keep state)."""
    results = {}
    for label, recipe in rows:
        results[label] = []
        for seed in seeds:
            r = dataclasses.replace(recipe, seed=seed, save_dir=os.path.join(out, slug(label), "seed%d" % seed))
            accuracy = finished_accuracy(r)
            if accuracy is None:
                echo("[%s] seed %d: training %s" % (label, seed, recipe.short()))
                accuracy = fit(r, progress=progress, resume=True, hooks=hooks())["final_test_acc"]
            else:
                echo("[%s] seed %d: done before (%.4f)" % (label, seed, accuracy))
            results[label].append(accuracy)
    return results


def finished_accuracy(recipe):
    """The final test accuracy of a completed run of ``recipe`` in its ``save_dir``, or None; a run
    of another recipe there is an error (a changed grid or budget must not reuse old results)."""
    path = os.path.join(recipe.save_dir, "log.jsonl")
    if not os.path.isfile(path):
        return None
    records = read_log(path)
    saved = next((r["recipe"] for r in records if r.get("kind") == "start"), None)
    saved = Recipe.from_dict(saved).to_dict() if saved is not None else None
    if saved is not None and saved != recipe.to_dict():
        changed = sorted(k for k, v in recipe.to_dict().items() if saved[k] != v)
        raise ValueError("%s holds a run of another recipe (%s differ); use a new --out or delete it"
                         % (recipe.save_dir, ", ".join(changed)))
    ends = [r for r in records if r.get("kind") == "end"]
    return ends[-1]["final_test_acc"] if ends else None


def summarise(results):
    """One dict per row: mean, standard deviation (ddof=1 when n > 1), min, max, n, the values."""
    rows = []
    for label, values in results.items():
        v = np.asarray(values, dtype=float) * 100
        rows.append({"row": label, "mean": v.mean(), "std": v.std(ddof=1) if len(v) > 1 else 0.0,
                     "min": v.min(), "max": v.max(), "n": len(v), "values": [round(x, 2) for x in v]})
    return rows


def write_report(summary, out, title):
    """table.md, table.csv and chart.png under ``out``; returns their paths."""
    paths = {"markdown": os.path.join(out, "table.md"), "csv": os.path.join(out, "table.csv"),
             "chart": os.path.join(out, "chart.png")}
    base = summary[0]["mean"]
    lines = ["# %s" % title, "", "| row | top-1 mean (%) | std | min | max | vs baseline | seeds |",
             "|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append("| %s | %.2f | %.2f | %.2f | %.2f | %+.2f | %s |" % (
            s["row"], s["mean"], s["std"], s["min"], s["max"], s["mean"] - base, ", ".join("%.2f" % v for v in s["values"])))
    with open(paths["markdown"], "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "mean", "std", "min", "max", "n", "values"])
        for s in summary:
            w.writerow([s["row"], "%.4f" % s["mean"], "%.4f" % s["std"], "%.4f" % s["min"], "%.4f" % s["max"], s["n"],
                        json.dumps(s["values"])])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(summary) + 1.5))
    y = np.arange(len(summary))[::-1]
    ax.barh(y, [s["mean"] for s in summary], xerr=[s["std"] for s in summary], color="tab:blue", alpha=0.8,
            capsize=3)
    ax.set_yticks(y)
    ax.set_yticklabels([s["row"] for s in summary])
    low = min(s["min"] for s in summary)
    ax.set_xlim(max(0.0, low - 2 * max(1.0, max(s["std"] for s in summary))), min(100.0, max(s["max"] for s in summary) + 1))
    ax.set_xlabel("test top-1 (%), mean and std over seeds")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(paths["chart"], dpi=110)
    plt.close(fig)
    return paths


def ablate(base, seeds, out, rows=None, independent=False, teacher=None, teacher_params=None, train_teacher=False,
           progress=False, echo=print):
    """Run the grid's ``rows`` (labels; default: all, without distillation unless a teacher can be
    had) on ``base`` for every seed under ``out``; (summary, report paths). ``train_teacher``
    trains ``teacher`` first with the recipe of the row before distillation (seed 0)."""
    if not seeds:
        raise ValueError("no seeds given")
    model_settings(base.model)
    grid = GRID
    if rows:
        unknown = sorted(set(rows) - {label for label, _ in grid})
        if unknown:
            raise ValueError("unknown row(s) %s; rows are: %s" % (unknown, "; ".join(l for l, _ in grid)))
        grid = [g for g in grid if g[0] in rows or g[0] == "baseline"]
    elif not (teacher and (teacher_params or train_teacher or teacher in zoo_names())):
        grid = [g for g in grid if "teacher" not in g[1]]
    distils = any("teacher" in g[1] for g in grid)
    if distils and not teacher:
        raise ValueError("the distillation row needs --teacher MODEL (and --teacher-params or --train-teacher)")
    if teacher:
        architecture(teacher)  # an unknown name stops here, before any training
    if train_teacher and distils:
        before = row_recipes(base, [g for g in grid if "teacher" not in g[1]], independent)[-1][1]
        recipe = dataclasses.replace(before, model=teacher, seed=0, save_dir=os.path.join(out, "teacher"))
        if finished_accuracy(recipe) is None:
            echo("training the teacher: %s" % recipe.short())
            fit(recipe, progress=progress, resume=True)
        teacher_params = os.path.join(recipe.save_dir, "best.params")
    recipes = row_recipes(base, grid, independent, teacher, teacher_params)
    summary = summarise(run_grid(recipes, seeds, out, progress=progress, echo=echo))
    title = "baseline %s (rows switch its variant), %s, %d epochs%s, seeds %s%s" % (
        recipes[0][1].model, base.dataset, base.epochs,
        ", %d training images" % base.train_samples if base.train_samples else "", ",".join(map(str, seeds)),
        ", each trick alone" if independent else ", tricks stacked")
    return summary, write_report(summary, out, title)
