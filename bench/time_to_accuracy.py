#!/usr/bin/env python
"""Time for a recipe to reach given test accuracies on Fashion-MNIST, on this machine.

Trains the default recipe of scripts/train_cifar.py (or one given by --recipe / flags), then
reads the per-epoch records of its log. "Time to X%" is training time (evaluation excluded)
up to the end of the first epoch whose test accuracy is >= X. Prints the CPU and its flags
beside the figures, and appends a JSON line to bench/results/time_to_accuracy.jsonl.

    python bench/time_to_accuracy.py                 # the default recipe
    python bench/time_to_accuracy.py --epochs 10 --model cifar_resnet20_v1d
"""
import argparse
import json
import os
import tempfile
import time

import gluon_tricks  # noqa: E402,F401  (sets OMP_NUM_THREADS before MXNet loads)
from gluon_tricks.train import Recipe, fit  # noqa: E402
from gluon_tricks.machine import machine_info  # noqa: E402
from gluon_tricks.train.report import read_log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def milestones(epochs, targets):
    """{target: (epoch, train seconds)} for the first epoch reaching each target, else None."""
    out = {}
    for target in targets:
        hit = next((r for r in epochs if r["test_acc"] >= target), None)
        out[target] = (hit["epoch"] + 1, hit["train_time"]) if hit else None
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", help="recipe file (default: the built-in default recipe)")
    p.add_argument("--model")
    p.add_argument("--epochs", type=int)
    p.add_argument("--targets", default="0.92,0.93,0.94", help="comma-separated test accuracies")
    p.add_argument("--save-dir", help="run directory (default: a temporary one)")
    args = p.parse_args()
    recipe = Recipe.load(args.recipe) if args.recipe else Recipe()
    if args.model:
        recipe.model = args.model
    if args.epochs:
        recipe.epochs = args.epochs
    recipe.save_dir = args.save_dir or tempfile.mkdtemp(prefix="tta-")
    targets = [float(t) for t in args.targets.split(",")]
    machine = machine_info()
    print("machine: %(cpu)s, %(cores)s cores, bf16 flags %(cpu_bf16)s, MXNet %(mxnet)s" % machine)
    print("OMP_NUM_THREADS=%s" % os.environ.get("OMP_NUM_THREADS"))
    print("recipe: %s" % json.dumps(recipe.to_dict(), sort_keys=True))
    wall = time.time()
    summary = fit(recipe, progress=False)
    wall = time.time() - wall
    epochs = [r for r in read_log(summary["log"]) if r.get("kind") == "epoch"]
    hits = milestones(epochs, targets)
    print("\n| target | epoch reached | training time |")
    print("|---|---|---|")
    for target, hit in hits.items():
        print("| %.0f%% | %s | %s |" % (100 * target, hit[0] if hit else "not reached",
                                      "%.1f min" % (hit[1] / 60) if hit else "-"))
    print("final test accuracy %.2f%% after %d epochs, %.1f min training (%.1f min wall, with evaluation); "
          "mean %.0f img/s" % (100 * summary["final_test_acc"], summary["epochs"], summary["train_time"] / 60,
                                wall / 60, sum(r["img_per_s"] for r in epochs) / len(epochs)))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "time_to_accuracy.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine,
                            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "recipe": recipe.to_dict(),
                            "milestones": {str(k): v for k, v in hits.items()},
                            "final_test_acc": summary["final_test_acc"], "train_time": summary["train_time"],
                            "wall_time": wall, "per_epoch": epochs}, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
