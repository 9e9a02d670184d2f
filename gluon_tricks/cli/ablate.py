"""Ablate the Bag-of-Tricks techniques on a data set and budget, several seeds per row.

Rows, each adding one trick to the row above (the paper's Table 6; --independent: each trick
alone on the baseline): baseline (the A variant, step decay, no tricks), + B, C, D tweaks,
+ cosine with warmup, + label smoothing, + mixup, + zero gamma, + no bias decay, + distillation.
Other grids (--grid), each change alone on the baseline with the B variant: fb.resnet.torch's
block ablations (BN after the addition, no ReLU after it) and its optimizer comparison; or a
grid file of your own, whose rows each change your recipe alone.
Writes under --out: table.md, table.csv (mean, std, min, max and every seed's accuracy),
chart.png, and every run's own directory; a rerun reuses completed runs, and --record FILE keeps
a committable list of finished runs so another machine can continue the grid.

The distillation row needs a teacher: --teacher MODEL with --teacher-params FILE, or
--train-teacher to train MODEL first with the recipe of the row before distillation.

examples:
  python scripts/ablate.py --epochs 3 --train-samples 10000 --seeds 0,1 --out bench/ablation
  python scripts/ablate.py --rows baseline,"+ D tweak" --independent --seeds 0,1,2
  python scripts/ablate.py --teacher cifar_resnet56_v1d --train-teacher
  python scripts/ablate.py --recipe model_zoo/fashion_mnist_fast.yaml --grid my_grid.yaml --seeds 0,1 --jobs 2
  python scripts/ablate.py --grid fb-optimizers --epochs 12 --train-samples 10000 --seeds 0,1,2 \
      --out runs/fb_opt --record bench/ablation/fb_optimizers/runs.jsonl
"""
import argparse

from .. import ablate
from . import add_recipe_arguments, program, recipe_from_args
from ..errors import BadInput


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", metavar="FILE", help="the base recipe (its trick settings are replaced per row)")
    p.add_argument("--out", default="runs/ablation", help="where runs, table and chart go (default runs/ablation)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; every row runs each (default 0,1,2)")
    p.add_argument("--grid", default="table6", metavar="GRID",
                   help="table6: the paper's trick ladder (default); fb-blocks: BN after the addition, no ReLU after "
                        "it; fb-optimizers: NAG against RMSprop, Adadelta, Adagrad, Adam, 3-5 step sizes each "
                        "(learning rates; epsilon for Adadelta, which has no learning rate in MXNet); or a YAML file "
                        "'rows: [[label, {field: value}], ...]' whose rows each change the --recipe as it is (the "
                        "first row is the reference), e.g. bench/ablation/fast_path/grid.yaml")
    p.add_argument("--rows", help="row labels to run, separated by commas, or by semicolons when labels hold commas "
                                  "(default: all but distillation without a "
                                  "teacher); table6's labels: " + "; ".join(label for label, _ in ablate.GRID))
    p.add_argument("--record", metavar="FILE", help="JSON lines of finished runs, read and appended: commit it so "
                                                    "another machine continues the grid without the run folders")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train N runs at once, each in its own process on 1/N of the threads (OMP_NUM_THREADS, else the "
                        "cores; output in each run's "
                        "output.txt): small networks use the cores better so, e.g. two 1-thread ResNet-20 runs on "
                        "2 cores finish 1.14x sooner than one after the other (default 1)")
    p.add_argument("--independent", action="store_true", help="each trick alone on the baseline, not stacked")
    p.add_argument("--train-teacher", action="store_true", help="train --teacher first (seed 0) for distillation")
    p.add_argument("--progress", action="store_true", help="progress bars for each run")
    add_recipe_arguments(p, skip=("seed", "save_dir"))
    return p


def command_line(argv):
    """This invocation as a user would type it again from the repository root."""
    import shlex
    return "python scripts/ablate.py " + shlex.join(argv)


@program(parser)
def main(args):
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise BadInput("--seeds takes comma-separated integers, got %r" % args.seeds) from None
    if args.warmup_epochs is None and args.grid in ablate.GRIDS:
        args.warmup_epochs = 0.0  # the baseline has none; the cosine row sets its own (epochs / 10)
    if args.jobs < 1:
        raise BadInput("--jobs must be >= 1, got %d" % args.jobs)
    sep = ";" if args.rows and ";" in args.rows else ","  # fb-optimizers' labels hold commas
    rows = [r.strip() for r in args.rows.split(sep) if r.strip()] if args.rows else None
    summary, paths = ablate.ablate(recipe_from_args(args), seeds, args.out, rows, args.independent, args.teacher,
                                   args.teacher_params, args.train_teacher, args.progress, grid=args.grid,
                                   record=args.record, jobs=args.jobs, command=command_line(args._argv))
    print(open(paths["markdown"]).read())
    print("table %s, %s; chart %s" % (paths["markdown"], paths["csv"], paths["chart"]))
    return summary


if __name__ == "__main__":
    main()
