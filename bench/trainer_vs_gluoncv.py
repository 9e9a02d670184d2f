#!/usr/bin/env python
"""Training throughput of our Stepper against a plain GluonCV-style loop, side by side.

Both sides train the same architecture (GluonCV's own model for theirs, our registry model of
the same name for ours; identical parameter shapes), at the same batch, input size and
precision, hybridized with static_alloc, with NAG, on synthetic data already on the device.
Ours includes what our recipe really does per step (smoothed soft targets, soft-target loss,
metric sums on the device, the two-steps-in-flight bound). Timed blocks alternate between
the two so slow drifts of the machine hit both. Prints img/s and the ratio ours/theirs.

    python bench/trainer_vs_gluoncv.py                                   # resnet50_v1d, 224 px, batch 32
    python bench/trainer_vs_gluoncv.py --model cifar_resnet20_v1 --size 28 --channels 1 --batch 128
"""
import argparse
import json
import os
import time

import gluon_tricks  # noqa: E402,F401  (sets OMP_NUM_THREADS before MXNet loads)
import mxnet as mx  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from gluon_tricks import get_model  # noqa: E402
from gluon_tricks.benchmark import timed  # noqa: E402
from gluon_tricks.train import Recipe  # noqa: E402
from gluon_tricks.machine import machine_info  # noqa: E402
from gluon_tricks.train.step import Meter, Stepper, build_loss, build_trainer  # noqa: E402


def gluoncv_loop(name, x, y, classes):
    """The loop of GluonCV's train_imagenet.py, reduced to its per-step work."""
    import gluoncv
    net = gluoncv.model_zoo.get_model(name, classes=classes, pretrained=False)
    net.initialize(mx.init.MSRAPrelu())
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), "nag", {"learning_rate": 0.01, "momentum": 0.9, "wd": 1e-4})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def step():
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(x.shape[0])
        return loss
    return step


def our_loop(name, x, y, classes, settings=None):
    recipe = Recipe(model=name, lr=0.01, wd=1e-4, batch_size=x.shape[0])
    net = get_model(name, classes=classes, **(settings or {}))
    net.initialize(mx.init.MSRAPrelu())
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = build_trainer(recipe, net)
    stepper = Stepper(recipe, net, trainer, build_loss(recipe), [mx.cpu()], classes)
    meter = Meter()

    def step():
        _, done = stepper(x, y, 0, None)
        for losses, outs, targets in done:
            meter.add(losses, outs, targets)
        return done[-1][0][-1]
    return step


def add_side_arguments(p):
    """The network and batch both sides train (shared with bench/peak_memory.py)."""
    p.add_argument("--model", default="resnet50_v1d")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--classes", type=int, default=1000)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_side_arguments(p)
    p.add_argument("--iters", type=int, default=5, help="timed iterations per block")
    p.add_argument("--blocks", type=int, default=3, help="timed blocks per side, alternating")
    p.add_argument("--settings", type=json.loads, default={},
                   help='our model\'s settings as JSON, e.g. \'{"fused_bn_relu": true}\' (a third side, "ours+")')
    args = p.parse_args()
    x = mx.nd.random.uniform(shape=(args.batch, args.channels, args.size, args.size))
    y = mx.nd.array([i % args.classes for i in range(args.batch)])
    sides = {"gluoncv": gluoncv_loop(args.model, x, y, args.classes), "ours": our_loop(args.model, x, y, args.classes)}
    if args.settings:
        sides["ours+"] = our_loop(args.model, x, y, args.classes, args.settings)
    for step in sides.values():  # build graphs and allocate
        timed(step, 2)
    seconds = {k: 0.0 for k in sides}
    for _ in range(args.blocks):
        for name, step in sides.items():
            seconds[name] += timed(step, args.iters)
    images = args.batch * args.iters * args.blocks
    speed = {k: images / v for k, v in seconds.items()}
    machine = machine_info()
    print("machine: %(cpu)s, %(cores)s cores, OMP_NUM_THREADS=%(omp_num_threads)s, bf16 flags %(cpu_bf16)s, "
          "MXNet %(mxnet)s" % machine)
    print("%s, %dx%dx%d, batch %d, float32: GluonCV loop %.2f img/s, ours %.2f img/s, ratio ours/GluonCV %.3f"
          % (args.model, args.channels, args.size, args.size, args.batch, speed["gluoncv"], speed["ours"],
             speed["ours"] / speed["gluoncv"]))
    if args.settings:
        print("ours with %s: %.2f img/s, ratio to GluonCV %.3f, to ours %.3f" % (
            json.dumps(args.settings), speed["ours+"], speed["ours+"] / speed["gluoncv"], speed["ours+"] / speed["ours"]))
    os.makedirs(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "trainer_vs_gluoncv.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "args": vars(args),
                            "img_per_s": speed, "ratio": speed["ours"] / speed["gluoncv"]}) + "\n")


if __name__ == "__main__":
    main()
