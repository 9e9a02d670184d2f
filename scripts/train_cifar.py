#!/usr/bin/env python
"""Train a small-input ResNet on Fashion-MNIST with the Bag-of-Tricks baseline recipe.

Default recipe: cifar_resnet20_v1b, NAG (momentum 0.9), batch 128, lr 0.1 with 1 epoch of
linear warmup then cosine to 0, label smoothing 0.1, weight decay 5e-4 except on BN and
biases, pad-2 random crop + flip, hybridized. Writes to --save-dir: log.jsonl (appended),
curves.png, recipe.json, last.{params,states,json} and best.{params,json}.

Verified on CPU only (MXNet 1.9.1, 2 cores); no GPU path exists in this script yet.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gluon_tricks  # noqa: E402,F401  (first: it sets OMP_NUM_THREADS before MXNet loads)
import mxnet as mx  # noqa: E402
from gluon_tricks.cli import main_guard, nonnegative_float, positive_int, recipe_from_args  # noqa: E402
from gluon_tricks.data import DATASETS  # noqa: E402
from gluon_tricks.models import model_settings  # noqa: E402
from gluon_tricks.train import Recipe, fit  # noqa: E402

D = Recipe()
OPTIMIZERS = sorted(set(mx.optimizer.Optimizer.opt_registry) - {"test"})


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--recipe", metavar="FILE", help="YAML or JSON recipe; flags given explicitly override its fields")
    a("--dataset", choices=sorted(DATASETS), help="data set (default %s)" % D.dataset)
    a("--data-dir", dest="data_dir", metavar="DIR",
      help="directory with the data set's files; default: Debian's /usr/share/datasets/<name>, "
           "then MXNet's download into $MXNET_HOME/datasets")
    a("--model", help="registry name, e.g. cifar_resnet20_v1b, cifar_resnet56_v1d (default %s)" % D.model)
    a("--epochs", type=positive_int, help="training epochs (default %d)" % D.epochs)
    a("--batch-size", dest="batch_size", type=positive_int, help="images per step (default %d)" % D.batch_size)
    a("--optimizer", choices=OPTIMIZERS, help="any MXNet optimizer (default %s = Nesterov momentum)" % D.optimizer)
    a("--lr", type=float, help="peak learning rate after warmup (default %g)" % D.lr)
    a("--lr-mode", dest="lr_mode", choices=["cosine", "step", "linear", "poly"],
      help="decay after warmup (default %s)" % D.lr_mode)
    a("--lr-decay-epochs", dest="lr_decay_epochs", type=lambda s: tuple(float(v) for v in s.split(",")),
      metavar="E1,E2", help="epochs at which step mode multiplies the lr by --lr-decay")
    a("--lr-decay", dest="lr_decay", type=float, help="step-mode factor (default %g)" % D.lr_decay)
    a("--warmup-epochs", dest="warmup_epochs", type=nonnegative_float,
      help="linear warmup length in epochs, may be fractional (default %g)" % D.warmup_epochs)
    a("--warmup-lr", dest="warmup_lr", type=nonnegative_float, help="lr at the start of warmup (default %g)" % D.warmup_lr)
    a("--momentum", type=float, help="momentum for sgd/nag (default %g)" % D.momentum)
    a("--wd", type=nonnegative_float, help="weight decay (default %g)" % D.wd)
    wd = p.add_mutually_exclusive_group()
    wd.add_argument("--no-wd", dest="no_wd", action="store_const", const=True,
                    help="no weight decay on BN gamma/beta and biases (the default in this recipe)")
    wd.add_argument("--decay-all", dest="no_wd", action="store_const", const=False,
                    help="apply weight decay to every parameter (plain baseline)")
    a("--label-smoothing", dest="label_smoothing", type=nonnegative_float,
      help="smoothing epsilon; 0 turns it off (default %g)" % D.label_smoothing)
    a("--pad-crop", dest="pad_crop", type=int, help="pad by N pixels then random-crop; 0 = off (default %d)" % D.pad_crop)
    a("--no-flip", dest="flip", action="store_const", const=False, help="no random horizontal flip")
    a("--train-samples", dest="train_samples", type=int, metavar="N",
      help="train on a fixed random subset of N images (quick trials; default all)")
    a("--test-samples", dest="test_samples", type=int, metavar="N",
      help="evaluate on the first N test images only (default all)")
    a("--init", choices=["msra", "xavier"], help="weight initialiser (default %s)" % D.init)
    a("--mode", choices=["hybrid", "imperative"], default=None,
      help="hybrid compiles the graph (default), imperative runs op by op for debugging")
    a("--seed", type=int, help="seed for weights, order and augmentation (default %d)" % D.seed)
    a("--save-dir", dest="save_dir", help="where log, plot and checkpoints go (default %s)" % D.save_dir)
    a("--log-interval", dest="log_interval", type=positive_int,
      help="iterations between log records (default %d)" % D.log_interval)
    a("--no-progress", action="store_true", help="no progress bar (for logs and CI)")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.mode is not None:
        args.hybridize = args.mode == "hybrid"
    fields = [f for f in Recipe().to_dict() if f != "model_kwargs"]

    def run():
        recipe = recipe_from_args(args, fields)
        model_settings(recipe.model)  # unknown names fail here, before any data is read
        print("training %s  (lr %.4g, batch %d, save dir %s)" % (
            recipe.short(), recipe.effective_lr(), recipe.batch_size, recipe.save_dir), flush=True)
        summary = fit(recipe, progress=not args.no_progress)
        print("final test accuracy %.4f (best %.4f at epoch %d) in %.1f min of training; log %s, plot %s" % (
            summary["final_test_acc"], summary["best_test_acc"], summary["best_epoch"],
            summary["train_time"] / 60, summary["log"], summary["plot"]))
        return summary
    return main_guard(p, run)


if __name__ == "__main__":
    main()
