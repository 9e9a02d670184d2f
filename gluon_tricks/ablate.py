"""Ablation of the tricks, the way the paper's Table 6 reads: rows that each add one trick to the
row above (or, ``independent``, to the baseline alone), each trained with several seeds, then a
table of mean and spread and a bar chart. A grid is data: (label, recipe changes) pairs; the
named grids are the paper's Table 6 and fb.resnet.torch's block and optimizer ablations.

Runs are ordinary training runs under ``out/<row>/seed<k>``; a run whose log is complete is
reused, so an interrupted ablation continues where it stopped, and a record file of finished
runs (committed with the results) lets another machine continue the grid."""
import csv
import dataclasses
import json
import os
import re
import sys

import numpy as np

from .models import model_settings
from .zoo import lookup
from .zoo import published_names
from .train import Recipe, fit
from .train.report import read_log
from .errors import RUN_FAILED, BadInput, UserError

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

# fb.resnet.torch's ablations (Gross and Wilber, "Training and investigating Residual Nets", 2016),
# each change alone on the baseline (with the B variant, whose units the switches apply to):
# where the last BN sits and whether a ReLU follows the addition (they found both changes worse) ...
FB_BLOCKS = [
    ("baseline", {"model": "@v1b"}),
    ("BN after addition", {"model_kwargs": {"bn_after_add": True}}),
    ("no ReLU after addition", {"model_kwargs": {"relu_after_add": False}}),
]
# ... and SGD with Nesterov momentum against adaptive optimizers, each at a tuned step size: three
# values per optimizer around its usual one, and one more past the end where the best of the three
# was at an end (seed 0, 12 epochs: RMSprop's at 1e-3, then 3e-3; Adagrad's at 0.01; Adam's at 3e-3, then 1e-2); the table reports each
# optimizer's best. MXNet's AdaDelta has no learning rate (nor schedule): epsilon sets its step size.
OPTIMIZER_STEPS = {"nag": ("lr", (0.05, 0.2)), "rmsprop": ("lr", (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)),  # nag lr 0.1: baseline
                   "adadelta": ("epsilon", (1e-6, 1e-5, 1e-4)), "adagrad": ("lr", (0.003, 0.01, 0.03, 0.1)),
                   "adam": ("lr", (3e-4, 1e-3, 3e-3, 1e-2, 3e-2))}
FB_OPTIMIZERS = [("baseline", {"model": "@v1b"})] + [
    ("%s, %s %g" % (name, key, value),
     {"optimizer": name, "lr": value} if key == "lr" else {"optimizer": name, "optimizer_params": {key: value}})
    for name, (key, values) in OPTIMIZER_STEPS.items() for value in values]
GRIDS = {"table6": GRID, "fb-blocks": FB_BLOCKS, "fb-optimizers": FB_OPTIMIZERS}
INDEPENDENT = ("fb-blocks", "fb-optimizers")  # grids whose rows each change only the baseline


def variant(model, tag):
    """``cifar_resnet20_v1d`` with tag ``v1b`` -> ``cifar_resnet20_v1b``."""
    stem = re.sub(r"_v\d[a-z]?$", "", model)
    return "%s_%s" % (stem, tag)


def load_grid(path):
    """[(label, changes)] of a grid file (YAML or JSON): ``rows: [[label, {field: value}], ...]``,
    each row's changes to the base recipe as it is, the first row the reference (``{}``: the
    recipe itself). Any question of the form "does this change help this recipe" is such a file."""
    import yaml
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    rows = data.get("rows") if isinstance(data, dict) else None
    if not rows or not all(isinstance(r, (list, tuple)) and len(r) == 2 and isinstance(r[1], dict) for r in rows):
        raise BadInput("grid file %s needs 'rows: [[label, {field: value, ...}], ...]'" % path)
    labels = [str(label) for label, _ in rows]
    if len(set(labels)) != len(labels):
        raise BadInput("grid file %s repeats a row label" % path)
    known = {f.name for f in dataclasses.fields(Recipe)}
    for label, changes in rows:
        unknown = sorted(set(changes) - known)
        if unknown:
            raise BadInput("grid file %s, row %r: unknown recipe field(s) %s" % (path, label, ", ".join(unknown)))
    return [(str(label), dict(changes)) for label, changes in rows]


def row_recipes(base, grid=GRID, independent=False, teacher=None, teacher_params=None, paper_baseline=True):
    """[(label, recipe)]: the first row's changes on the paper's baseline (or, not ``paper_baseline``,
    on ``base`` as it is), then each row's changes on the row above (``independent``: on the first
    row's starting point)."""
    steps = tuple(round(f * base.epochs, 3) for f in PAPER_STEPS)
    baseline = dataclasses.replace(base, lr_decay_epochs=steps, **BASELINE) if paper_baseline else base
    fills = {"@warmup": max(0.1, min(1.0, base.epochs / 10)), "@teacher": teacher, "@teacher_params": teacher_params}
    rows, previous = [], baseline
    for label, changes in grid:
        values = {}
        for key, value in changes.items():
            if isinstance(value, str) and value.startswith("@v"):
                value = variant(base.model, value[1:])
            values[key] = fills.get(value, value) if isinstance(value, str) else value
        if values.get("teacher") and not values.get("teacher_params") and values["teacher"] not in published_names():
            raise BadInput("the distillation row needs teacher weights: a published --teacher, --teacher-params, "
                           "or --train-teacher")
        start = (rows[0][1] if paper_baseline else baseline) if independent and rows else previous
        recipe = dataclasses.replace(start, **values)
        rows.append((label, recipe.validate()))
        previous = recipe
    return rows


def slug(label):
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "row"


def run_grid(rows, seeds, out, progress=False, echo=print, hooks=list, record=None, jobs=1):
    """Train every (row, seed) not already done; returns {label: [accuracy per seed]}. Done means
    a complete run under ``out``, or a line of ``record`` (a JSON-lines file of finished runs that
    can be committed, so that another machine continues the grid without the run directories).
    ``hooks()`` makes each run's extra hooks (fresh ones: hooks keep state). ``jobs`` > 1 trains
    that many runs at once in worker processes (see :func:`train_in_workers`)."""
    results, done, todo = {}, read_record(record), []
    for label, recipe in rows:
        for seed in seeds:
            r = dataclasses.replace(recipe, seed=seed, save_dir=os.path.join(out, slug(label), "seed%d" % seed))
            accuracy = recorded(done, label, r)
            if accuracy is not None:
                echo("[%s] seed %d: done before (%.4f)" % (label, seed, accuracy))
            else:
                accuracy = finished_accuracy(r)
                if accuracy is None:
                    todo.append((label, r))
                    continue
                append_record(record, label, r, accuracy)
            results[(label, seed)] = accuracy
    if jobs > 1 and len(todo) > 1:
        if hooks is not list:
            raise BadInput("runs with extra hooks train one at a time (jobs=1)")
        results.update(train_in_workers(todo, jobs, record, echo))
    else:
        for label, r in todo:
            echo("[%s] seed %d: training %s" % (label, r.seed, r.short()))
            results[(label, r.seed)] = fit(r, progress=progress, resume=True, hooks=hooks())["final_test_acc"]
            append_record(record, label, r, results[(label, r.seed)])
    return {label: [results[(label, seed)] for seed in seeds] for label, _ in rows}


class RunsFailed(UserError, RuntimeError):
    """Runs trained in workers failed; each one's traceback is in its output.txt."""
    status = RUN_FAILED


def _fit_to_file(recipe):
    """A worker's run: its console output (and traceback, if it fails) go to ``output.txt`` in its
    run directory."""
    import contextlib
    import traceback
    os.makedirs(recipe.save_dir, exist_ok=True)
    with open(os.path.join(recipe.save_dir, "output.txt"), "a") as f, contextlib.redirect_stdout(f):
        try:
            return fit(recipe, progress=False, resume=True)["final_test_acc"]
        except Exception:
            traceback.print_exc(file=f)
            raise


def train_in_workers(todo, jobs, record=None, echo=print):
    """Train [(label, recipe)] ``jobs`` at a time, each worker on 1/jobs of our threads
    (``OMP_NUM_THREADS``, else the cores): a small network leaves cores idle in one process (two
    1-thread ResNet-20 runs on 2 cores finish 1.14x sooner than one after the other on 2 threads,
    docs/results/speed.rst). Every finished run is recorded as it ends; a failed run does not stop the
    others, and the first failure is raised at the end."""
    import concurrent.futures as futures
    import multiprocessing
    saved = os.environ.get("OMP_NUM_THREADS")  # our thread budget if set, else every core
    budget = int(saved) if saved and saved.isdigit() else (os.cpu_count() or 1)
    threads = str(max(1, budget // jobs))
    os.environ["OMP_NUM_THREADS"] = threads  # the spawned workers read it when they import MXNet
    results, failures = {}, []
    try:
        # a fresh process per run, so each log's wall time is its own run's (Python 3.11+ can say so)
        fresh = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
        with futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), **fresh) as pool:
            running = {}
            for label, r in todo:
                running[pool.submit(_fit_to_file, r)] = (label, r)
                echo("[%s] seed %d: queued (%d workers x %s threads; output in %s)" % (
                    label, r.seed, jobs, threads, os.path.join(r.save_dir, "output.txt")))
            for future in futures.as_completed(running):
                label, r = running[future]
                try:
                    results[(label, r.seed)] = future.result()
                except Exception as e:  # the others go on; nothing finished is lost
                    failures.append("[%s] seed %d: %s (traceback in %s)" % (
                        label, r.seed, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__,
                        os.path.join(r.save_dir, "output.txt")))
                    echo(failures[-1])
                    continue
                append_record(record, label, r, results[(label, r.seed)])
                echo("[%s] seed %d: %.4f" % (label, r.seed, results[(label, r.seed)]))
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    if failures:
        raise RunsFailed("%d of %d runs failed: %s" % (len(failures), len(todo), "; ".join(failures)))
    return results


def _comparable(recipe):
    """A recipe as a record compares it: where runs and data live does not matter."""
    return {k: v for k, v in Recipe.from_dict(recipe).to_dict().items() if k not in ("save_dir", "data_dir")}


def read_record(path):
    """{(label, seed): record} of a JSON-lines file of finished runs (empty if there is none)."""
    if not path or not os.path.isfile(path):
        return {}
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return {(r["row"], r["seed"]): r for r in lines}


def recorded(done, label, recipe):
    """The accuracy a record holds for this row and seed, or None; a record of another recipe is
    an error, as for run directories."""
    r = done.get((label, recipe.seed))
    if r is None:
        return None
    saved, wanted = _comparable(r["recipe"]), _comparable(recipe.to_dict())
    if saved != wanted:
        raise BadInput("the record holds %r seed %d with another recipe (%s differ); use another record file"
                       % (label, recipe.seed, ", ".join(sorted(k for k in wanted if saved.get(k) != wanted[k]))))
    return r["final_test_acc"]


def append_record(path, label, recipe, accuracy):
    if not path:
        return
    from .machine import machine_info
    epochs = [r for r in read_log(os.path.join(recipe.save_dir, "log.jsonl")) if r.get("kind") == "epoch"]
    line = {"row": label, "seed": recipe.seed, "final_test_acc": accuracy, "recipe": recipe.to_dict(),
            "final_train_loss": epochs[-1]["train_loss"] if epochs else None,
            "train_time_s": epochs[-1].get("train_time") if epochs else None, "machine": machine_info()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")


def optimizer_of(label):
    return "nag" if label == "baseline" else label.split(",")[0]


def best_per_group(summary, group=optimizer_of):
    """The best row (by mean) of each group of rows, e.g. each optimizer's best learning rate."""
    best = {}
    for s in summary:
        key = group(s["row"])
        if key not in best or s["mean"] > best[key]["mean"]:
            best[key] = s
    return list(best.values())


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
        raise BadInput("%s holds a run of another recipe (%s differ); use a new --out or delete it"
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


def paired_steps(summary, stacked=True):
    """Each row against the row above (``stacked``) or the first row, seed by seed: (mean, standard
    error) of the per-seed differences, or None. Rows of one seed share its data subset and start,
    so the paired difference is steadier than the difference of the means."""
    steps = [None]
    for i, s in enumerate(summary[1:], 1):
        ref = summary[i - 1] if stacked else summary[0]
        if s["n"] < 2 or s["n"] != ref["n"]:
            steps.append(None)
            continue
        d = np.asarray(s["values"]) - np.asarray(ref["values"])
        steps.append((d.mean(), d.std(ddof=1) / np.sqrt(len(d))))
    return steps


def describe_machines(machines):
    """One line per distinct machine (CPU, cores, bf16 flags, MXNet) of ``machines`` (machine_info
    dicts), with the thread counts its runs used: what a table's figures were measured on."""
    found = {}
    for m in machines:
        key = (m.get("cpu"), m.get("cores"), tuple(m.get("cpu_bf16") or ()), m.get("mxnet"), bool(m.get("amx")))
        found.setdefault(key, set()).add(str(m.get("omp_num_threads") or "all"))
    return ["%s, %s cores, bf16 flags: %s%s, MXNet %s, %s thread(s) a run" % (
        cpu, cores, " ".join(flags) or "none", " (AMX tiles on)" if amx else "", mxnet, " or ".join(sorted(threads)))
        for (cpu, cores, flags, mxnet, amx), threads in found.items()]


def report_notes(record, labels, seeds, command=None):
    """The lines under a table: the machines its runs were trained on (from the record, else this
    one) and the command that regenerates it."""
    from .machine import machine_info
    done = read_record(record)
    machines = [done[(label, seed)]["machine"] for label in labels for seed in seeds
                if (label, seed) in done and done[(label, seed)].get("machine")]
    lines = ["Machine: %s" % line for line in describe_machines(machines or [machine_info()])]
    if command:
        lines.append("Regenerate (finished runs are read from the record, not retrained): `%s`" % command)
    return lines


def write_report(summary, out, title, stacked=True, notes=()):
    """table.md, table.csv and chart.png under ``out``; returns their paths. ``stacked``: each row
    adds to the row above (the paired step is taken against it), else to the first row. ``notes``:
    lines under the table (machine, command)."""
    os.makedirs(out, exist_ok=True)
    paths = {"markdown": os.path.join(out, "table.md"), "csv": os.path.join(out, "table.csv"),
             "chart": os.path.join(out, "chart.png")}
    base, steps = summary[0]["mean"], paired_steps(summary, stacked)
    lines = ["# %s" % title, "", "| row | top-1 mean (%%) | std | min | max | vs baseline | %s, by seed (+- s.e.) | "
             "seeds |" % ("step from the row above" if stacked else "vs baseline"), "|---|---|---|---|---|---|---|---|"]
    for s, step in zip(summary, steps):
        lines.append("| %s | %.2f | %.2f | %.2f | %.2f | %+.2f | %s | %s |" % (
            s["row"], s["mean"], s["std"], s["min"], s["max"], s["mean"] - base,
            "%+.2f +- %.2f" % step if step else "", ", ".join("%.2f" % v for v in s["values"])))
    if notes:  # a markdown line break after each text line; tables and blank lines as they are
        lines += [""] + [n if not n or n.startswith("|") else n + "  " for n in notes]
    with open(paths["markdown"], "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "mean", "std", "min", "max", "n", "values", "step_mean", "step_se"])
        for s, step in zip(summary, steps):
            w.writerow([s["row"], "%.4f" % s["mean"], "%.4f" % s["std"], "%.4f" % s["min"], "%.4f" % s["max"], s["n"],
                        json.dumps(s["values"])] + (["%.4f" % step[0], "%.4f" % step[1]] if step else ["", ""]))
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
           progress=False, echo=print, grid="table6", record=None, jobs=1, command=None):
    """Run ``rows`` (labels; default: all, without distillation unless a teacher can be had) of the
    named ``grid`` (:data:`GRIDS`) on ``base`` for every seed under ``out``; (summary, report
    paths). ``train_teacher`` trains ``teacher`` first with the recipe of the row before
    distillation (seed 0). ``record``, ``jobs``: see :func:`run_grid`. ``command``: how to
    regenerate the table, written under it with the machines of its runs."""
    if not seeds:
        raise BadInput("no seeds given")
    from_file = grid not in GRIDS and os.path.isfile(grid)
    if grid not in GRIDS and not from_file:
        raise BadInput("unknown grid %r; grids: %s, or a grid file" % (grid, ", ".join(GRIDS)))
    model_settings(base.model)
    if from_file:
        grid_name, independent, grid = os.path.splitext(os.path.basename(grid))[0], True, load_grid(grid)
    else:
        grid_name, independent, grid = grid, independent or grid in INDEPENDENT, GRIDS[grid]
    if rows:
        unknown = sorted(set(rows) - {label for label, _ in grid})
        if unknown:
            raise BadInput("unknown row(s) %s; rows are: %s" % (unknown, "; ".join(l for l, _ in grid)))
        grid = [g for g in grid if g[0] in rows or g[0] == grid[0][0]]
    elif not (teacher and (teacher_params or train_teacher or teacher in published_names())):
        grid = [g for g in grid if "teacher" not in g[1]]
    distils = any("teacher" in g[1] for g in grid)
    if distils and not teacher:
        raise BadInput("the distillation row needs --teacher MODEL (and --teacher-params or --train-teacher)")
    if teacher:
        lookup(teacher)  # an unknown name stops here, before any training
    if train_teacher and distils:
        before = row_recipes(base, [g for g in grid if "teacher" not in g[1]], independent)[-1][1]
        recipe = dataclasses.replace(before, model=teacher, seed=0, save_dir=os.path.join(out, "teacher"))
        if finished_accuracy(recipe) is None:
            echo("training the teacher: %s" % recipe.short())
            fit(recipe, progress=progress, resume=True)
        teacher_params = os.path.join(recipe.save_dir, "best.params")
    recipes = row_recipes(base, grid, independent, teacher, teacher_params, paper_baseline=not from_file)
    summary = summarise(run_grid(recipes, seeds, out, progress=progress, echo=echo, record=record, jobs=jobs))
    title = "%s: %s %s, %s, %d epochs%s, seeds %s%s" % (
        grid_name, recipes[0][0], recipes[0][1].model, base.dataset, recipes[0][1].epochs,
        ", %d training images" % base.train_samples if base.train_samples else "", ",".join(map(str, seeds)),
        ", each change alone" if independent else ", tricks stacked")
    notes = []
    if grid_name == "fb-optimizers":  # the comparison at each optimizer's best learning rate
        notes = ["Each optimizer at its best step size (of those tried):", "",
                 "| optimizer, step size | top-1 mean (%) | std | seeds |", "|---|---|---|---|"]
        notes += ["| %s | %.2f | %.2f | %s |" % (s["row"], s["mean"], s["std"], ", ".join("%.2f" % v for v in s["values"]))
                  for s in best_per_group(summary)] + [""]
    notes += report_notes(record, [label for label, _ in recipes], seeds, command)
    return summary, write_report(summary, out, title, stacked=not independent, notes=notes)
