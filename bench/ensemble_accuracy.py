#!/usr/bin/env python
"""Top-1 of published models and of their ensemble (the mean of their probabilities, as a distillation
teacher made of them answers) on a small data set's whole test set, without test-time augmentation.
Whether an ensemble beats its best member says whether it is worth distilling from.

    python bench/ensemble_accuracy.py fashion_mnist_resnet9_w32_e56 fashion_mnist_resnet9_w32_e30 fashion_mnist_resnet9_w32

Appends one line to bench/results/ensemble_accuracy.jsonl (the machine beside the figures).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gluon_tricks  # noqa: E402,F401  (sets OMP_NUM_THREADS before MXNet loads)
import mxnet as mx  # noqa: E402

from gluon_tricks import get_model  # noqa: E402
from gluon_tricks.data import build_test_loader  # noqa: E402
from gluon_tricks.machine import machine_info  # noqa: E402
from gluon_tricks.models.ensemble import Ensemble, scoped_members  # noqa: E402
from gluon_tricks.train import Recipe  # noqa: E402

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "ensemble_accuracy.jsonl")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="published names (two or more)")
    p.add_argument("--dataset", default="fashion-mnist", help="the small data set they were trained on")
    p.add_argument("--record", default=RECORD, help="JSON-lines file to append to ('' = none)")
    args = p.parse_args(argv)
    if len(args.models) < 2:
        p.error("an ensemble needs two or more models")
    nets = scoped_members(lambda name: get_model(name, pretrained=True), args.models)
    ensemble = Ensemble(nets)
    ensemble.hybridize(static_alloc=True)
    loader = build_test_loader(Recipe(dataset=args.dataset, batch_size=500, test_samples=0))
    right, total = [0] * (len(nets) + 1), 0
    for x, y in loader.epoch():
        outputs = [net(x) for net in nets] + [ensemble(x)]
        for k, out in enumerate(outputs):
            right[k] += int((out.argmax(axis=1) == y).sum().asscalar())
        total += len(y)
    top1 = {name: 100.0 * r / total for name, r in zip(args.models, right)}
    record = {"time": time.time(), "machine": machine_info(), "dataset": args.dataset, "images": total,
              "top1": top1, "ensemble_top1": 100.0 * right[-1] / total}
    for name, value in top1.items():
        print("%-40s %.2f%%" % (name, value))
    print("%-40s %.2f%% (best member %+.2f points)" % (
        "ensemble", record["ensemble_top1"], record["ensemble_top1"] - max(top1.values())))
    if args.record:
        with open(args.record, "a") as f:
            f.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
