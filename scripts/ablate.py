#!/usr/bin/env python
"""Ablate the Bag-of-Tricks techniques on a data set and budget, several seeds per row.

Rows, each adding one trick to the row above (the paper's Table 6; --independent: each trick
alone on the baseline): baseline (the A variant, step decay, no tricks), + B, C, D tweaks,
+ cosine with warmup, + label smoothing, + mixup, + zero gamma, + no bias decay, + distillation.
Writes under --out: table.md, table.csv (mean, std, min, max and every seed's accuracy),
chart.png, and every run's own directory; a rerun reuses completed runs.

The distillation row needs a teacher: --teacher MODEL with --teacher-params FILE, or
--train-teacher to train MODEL first with the recipe of the row before distillation.

examples:
  python scripts/ablate.py --epochs 3 --train-samples 10000 --seeds 0,1 --out bench/ablation
  python scripts/ablate.py --rows baseline,"+ D tweak" --independent --seeds 0,1,2
  python scripts/ablate.py --teacher cifar_resnet56_v1d --train-teacher
"""
import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gluon_tricks  # noqa: E402,F401  (first: it sets OMP_NUM_THREADS before MXNet loads)
from gluon_tricks import ablate  # noqa: E402
from gluon_tricks.cli import add_recipe_arguments, main_guard, recipe_from_args  # noqa: E402
from gluon_tricks.models import model_settings  # noqa: E402
from gluon_tricks.train import fit  # noqa: E402


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", metavar="FILE", help="the base recipe (its trick settings are replaced per row)")
    p.add_argument("--out", default="runs/ablation", help="where runs, table and chart go (default runs/ablation)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; every row runs each (default 0,1,2)")
    p.add_argument("--rows", help="comma-separated row labels to run (default: all but distillation without a "
                                  "teacher); labels: " + "; ".join(label for label, _ in ablate.GRID))
    p.add_argument("--independent", action="store_true", help="each trick alone on the baseline, not stacked")
    p.add_argument("--train-teacher", action="store_true", help="train --teacher first (seed 0) for distillation")
    p.add_argument("--progress", action="store_true", help="progress bars for each run")
    add_recipe_arguments(p, skip=("seed", "save_dir"))
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)

    def run():
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise ValueError("--seeds takes comma-separated integers, got %r" % args.seeds) from None
        if not seeds:
            raise ValueError("--seeds is empty")
        if args.warmup_epochs is None:
            args.warmup_epochs = 0.0  # the baseline has none; the cosine row sets its own (epochs / 10)
        base = recipe_from_args(args)
        model_settings(base.model)
        grid = ablate.GRID
        teacher_params = args.teacher_params
        if args.rows:
            wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
            unknown = sorted(set(wanted) - {label for label, _ in grid})
            if unknown:
                raise ValueError("unknown row(s) %s; rows are: %s" % (unknown, "; ".join(l for l, _ in grid)))
            grid = [g for g in grid if g[0] in wanted or g[0] == "baseline"]
        elif not (args.teacher and (teacher_params or args.train_teacher)):
            grid = [g for g in grid if "teacher" not in g[1]]
        if any("teacher" in g[1] for g in grid) and not args.teacher:
            raise ValueError("the distillation row needs --teacher MODEL (and --teacher-params or --train-teacher)")
        if args.teacher:
            model_settings(args.teacher)
        if args.train_teacher and any("teacher" in g[1] for g in grid):
            before = ablate.row_recipes(base, [g for g in grid if "teacher" not in g[1]], args.independent)[-1][1]
            teacher = dataclasses.replace(before, model=args.teacher, seed=0, save_dir=os.path.join(args.out, "teacher"))
            if ablate.finished_accuracy(teacher) is None:
                print("training the teacher: %s" % teacher.short(), flush=True)
                fit(teacher, progress=args.progress, resume=True)
            teacher_params = os.path.join(teacher.save_dir, "best.params")
        rows = ablate.row_recipes(base, grid, args.independent, args.teacher, teacher_params)
        results = ablate.run_grid(rows, seeds, args.out, progress=args.progress,
                                  echo=lambda line: print(line, flush=True))
        summary = ablate.summarise(results)
        title = "baseline %s (rows switch its variant), %s, %d epochs%s, seeds %s%s" % (
            rows[0][1].model, base.dataset, base.epochs,
            ", %d training images" % base.train_samples if base.train_samples else "", ",".join(map(str, seeds)),
            ", each trick alone" if args.independent else ", tricks stacked")
        paths = ablate.write_report(summary, args.out, title)
        print(open(paths["markdown"]).read())
        print("table %s, %s; chart %s" % (paths["markdown"], paths["csv"], paths["chart"]))
        return summary
    return main_guard(p, run)


if __name__ == "__main__":
    main()
