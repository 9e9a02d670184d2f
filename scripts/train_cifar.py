#!/usr/bin/env python
"""Train a small-input ResNet on Fashion-MNIST with the Bag-of-Tricks baseline recipe.

Default recipe (model_zoo/fashion_mnist_resnet20_v1b.yaml): cifar_resnet20_v1b, NAG momentum
0.9, batch 128, lr 0.1 with one epoch of linear warmup then cosine to 0, label smoothing 0.1,
weight decay 5e-4 except on BN and biases, pad-2 random crop + flip, hybridized, 15 epochs.

Writes to --save-dir: log.jsonl (appended), curves.png, recipe.json, best.params and
checkpoints/ (model, optimizer state, EMA, schedule position); --resume continues the newest
checkpoint there. Verified on CPU only (MXNet 1.9.1, 2 cores); the --gpus and float16 paths
are written but were never run on a GPU.

examples:
  python scripts/train_cifar.py --epochs 2 --warmup-epochs 0.3 --train-samples 5000
  python scripts/train_cifar.py --mixup-alpha 0.2 --mixup-off-epochs 2 --ema-decay 0.999
  python scripts/train_cifar.py --recipe model_zoo/fashion_mnist_resnet20_v1b.yaml --lr 0.2
  python scripts/train_cifar.py --save-dir runs/a --resume
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gluon_tricks  # noqa: E402,F401  (first: it sets OMP_NUM_THREADS before MXNet loads)
from gluon_tricks.cli import add_recipe_arguments, main_guard, recipe_from_args  # noqa: E402
from gluon_tricks.models import model_settings  # noqa: E402
from gluon_tricks.train import Recipe, fit  # noqa: E402


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", metavar="FILE", help="YAML or JSON recipe; flags given explicitly override its fields")
    p.add_argument("--mode", choices=["hybrid", "imperative"],
                   help="hybrid compiles the graph (default); imperative runs op by op, for debugging")
    p.add_argument("--resume", action="store_true",
                   help="continue the newest checkpoint in --save-dir with the recipe saved there")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs and CI)")
    add_recipe_arguments(p)
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.mode is not None:
        args.hybridize = args.mode == "hybrid"

    def run():
        base = None
        if args.resume:
            saved = os.path.join(args.save_dir or Recipe().save_dir, "recipe.json")
            if os.path.isfile(saved):
                base = Recipe.load(saved)
        recipe = recipe_from_args(args, base)
        model_settings(recipe.model)  # unknown names fail here, before any data is read
        print("training %s  (lr %.4g, batch %d, save dir %s)" % (
            recipe.short(), recipe.effective_lr(), recipe.batch_size, recipe.save_dir), flush=True)
        summary = fit(recipe, progress=not args.no_progress, resume=args.resume)
        if summary["rank"] == 0:
            print("final test accuracy %.4f (best %.4f at epoch %d) in %.1f min of training; log %s, plot %s" % (
                summary["final_test_acc"], summary["best_test_acc"], summary["best_epoch"],
                summary["train_time"] / 60, summary["log"], summary["plot"]))
        return summary
    return main_guard(p, run)


if __name__ == "__main__":
    main()
