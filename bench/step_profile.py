#!/usr/bin/env python
"""Where a training step's time goes, measured the way "How to train your ResNet" did: take parts
of the step away one at a time and time what is left, side by side in one run.

Rungs (each a fresh timing of what remains, blocks alternating between rungs so drifts of the
machine hit all of them):
  whole step          our loader's batches (the recipe's augmentation) -> our Stepper -> update
  data on the device  the same step on one batch already in memory (the loader's cost goes)
  forward + backward  no optimizer update, no smoothed targets, no metrics (plain cross-entropy)
  without BN          forward + backward of the graph with every BatchNorm removed
  convolutions only   ... and every ReLU removed: convolutions, pooling, additions, the classifier
(the last two float32 only: a stripped graph loses AMP's bfloat16 casts)
A rung's part is its time minus the next rung's: the part the next rung removes (the last rung's part
is all of it). The last rung's
GFLOP/s is set against this machine's GEMM peak in the step's dtype (FullyConnected, same threads).
``--operators`` adds MXNet's operator profiler over the "data on the device" rung, with bulk
execution off so each operator is timed alone (on a fresh graph, after the rungs are timed as
they run in training): which operators the rest of the step is.

    python bench/step_profile.py                                  # ResNet-9 w32 recipe, batches 128, 512
    python bench/step_profile.py --recipe model_zoo/fashion_mnist_resnet20_v1b.yaml --batches 128
    python bench/step_profile.py --model resnet50_v1d --size 224 --batches 32   # synthetic data only
    python bench/step_profile.py --recipe model_zoo/fashion_mnist_faster.yaml --batches 512 --operators
    python bench/step_profile.py --model resnet50_v1d --size 224 --batches 32 --dtype bfloat16 --operators
"""
import argparse
import json
import os
import time
import warnings

import gluon_tricks  # noqa: F401  (OMP_NUM_THREADS before MXNet loads)
import mxnet as mx
from mxnet import autograd, gluon

from gluon_tricks import data
from gluon_tricks.benchmark import complexity, markdown_table, timed, without_ops
from gluon_tricks.machine import cpu_flags, gemm_gflops, machine_info
from gluon_tricks.train import Precision, Recipe
from gluon_tricks.train.precision import PrecisionUnsupported
from gluon_tricks.train.step import Meter, Stepper, build_loss, build_trainer
from gluon_tricks.zoo import ready_network

warnings.filterwarnings("ignore", message="Cannot decide type")  # SymbolBlock on a stripped graph
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RECIPE = os.path.join(HERE, "..", "model_zoo", "fashion_mnist_resnet9_w32.yaml")


def rungs(recipe, batch, shape, classes, real_data):
    """{rung: step function returning an NDArray to wait on}, all on one network's parameters."""
    # every rung at the native size: a progressive-resizing recipe's loader would start at its smallest
    recipe = Recipe.from_dict(dict(recipe.to_dict(), batch_size=batch, train_sizes=()))
    ctx = mx.cpu()
    precision = Precision.from_recipe(recipe)
    net = precision.prepare(ready_network(recipe.model, classes, mx.nd.zeros((1,) + shape), [ctx], recipe.init,
                                      **recipe.model_kwargs))
    stepper = Stepper(recipe, net, build_trainer(recipe, net, precision=precision), build_loss(recipe), [ctx],
                      classes, precision=precision)
    meter = Meter()
    x = mx.nd.random.normal(shape=(batch,) + shape)
    y = mx.nd.array([i % classes for i in range(batch)])
    steps = {}

    def stepping(batches):
        def step():
            xb, yb = next(batches)
            _, done = stepper(xb, yb, 0, None)
            for item in done:
                meter.add(*item)
            return done[-1][0][-1]
        return step

    if real_data:
        loader = data.build_loaders(recipe)[0]

        def forever():
            epoch = 0
            while True:
                yield from loader.epoch(epoch)
                epoch += 1
        steps["whole step"] = stepping(forever())

    def same_batch():
        while True:
            yield x, y
    steps["data on the device"] = stepping(same_batch())
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def fwd_bwd(block):
        def step():
            with autograd.record():
                loss = loss_fn(block(x), y)
            loss.backward()
            return loss
        return step
    steps["forward + backward"] = fwd_bwd(net)
    if recipe.dtype == "float32":  # a stripped graph is rebuilt without AMP's casts: it would run in float32
        steps["without BN"] = fwd_bwd(without_ops(net, ("bn",)))
        steps["convolutions only"] = fwd_bwd(without_ops(net, ("bn", "relu")))
    return steps, net


def operator_profile(recipe, batch, shape, classes, iters):
    """[(operator, ms per step)], slowest first, from MXNet's aggregate profiler over ``iters`` steps
    of a fresh graph built with bulk execution off (a bulked segment is timed as one operator)."""
    bulk = ("MXNET_EXEC_BULK_EXEC_TRAIN", "MXNET_EXEC_BULK_EXEC_INFERENCE")
    saved = {k: os.environ.get(k) for k in bulk}
    os.environ.update(dict.fromkeys(bulk, "0"))
    try:
        step = rungs(recipe, batch, shape, classes, False)[0]["data on the device"]
        timed(step, 2)
        stats = _profiled(step, iters)
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    return sorted(((op, v["Total"] / iters) for op, v in stats.items()), key=lambda kv: -kv[1])


def _profiled(step, iters):
    mx.profiler.set_config(profile_imperative=True, profile_symbolic=True, aggregate_stats=True,
                           filename=os.devnull)
    mx.profiler.set_state("run")
    timed(step, iters)
    mx.profiler.set_state("stop")
    return json.loads(mx.profiler.dumps(reset=True, format="json"))["Time"].get("operator", {})


def profile(recipe, batch, shape, classes, real_data, iters, blocks, operators=False):
    steps, net = rungs(recipe, batch, shape, classes, real_data)
    for step in steps.values():
        timed(step, 2)  # build the graphs, allocate
    seconds = dict.fromkeys(steps, 0.0)
    for _ in range(blocks):
        for name, step in steps.items():
            seconds[name] += timed(step, iters)
    ms = {name: 1000 * s / (iters * blocks) for name, s in seconds.items()}
    macs = complexity(net, shape)[1]
    return ms, macs, operator_profile(recipe, batch, shape, classes, iters * blocks) if operators else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=DEFAULT_RECIPE, help="the recipe whose network and data step is profiled")
    p.add_argument("--model", help="override the recipe's network (then --size/--channels give the input)")
    p.add_argument("--size", type=int, help="synthetic input size; the recipe's data is then not used")
    p.add_argument("--channels", type=int, default=3, help="with --size: input channels")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batches", default="128,512", help="comma-separated batch sizes")
    p.add_argument("--iters", type=int, default=5, help="timed steps per block")
    p.add_argument("--blocks", type=int, default=3, help="timed blocks per rung, alternating")
    p.add_argument("--dtype", choices=("float32", "bfloat16"),
                   help="override the recipe's precision (bfloat16: MXNet AMP, a CPU with avx512_bf16 or AMX)")
    p.add_argument("--operators", action="store_true",
                   help="also time each operator of the step (MXNet's profiler, bulk execution off)")
    args = p.parse_args()
    recipe = Recipe.load(args.recipe)
    if args.model:
        recipe = Recipe.from_dict(dict(recipe.to_dict(), model=args.model, model_kwargs={}))
    if args.dtype:
        recipe = Recipe.from_dict(dict(recipe.to_dict(), dtype=args.dtype))
    try:
        Precision.from_recipe(recipe).check([mx.cpu()]).activate()  # AMP patches operators before any graph
    except PrecisionUnsupported as err:
        raise SystemExit("step_profile.py: %s" % err)
    real_data = args.size is None
    if real_data:
        shape = tuple(data.build_loaders(recipe)[0].data_shape)
    else:
        shape = (args.channels, args.size, args.size)
    machine = machine_info()
    flags = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni"})
    peak = gemm_gflops(repeats=20, dtype=recipe.dtype)
    print("machine: %s, %s cores, OMP_NUM_THREADS=%s, flags %s, MXNet %s; %s GEMM peak %.0f GFLOP/s"
          % (machine["cpu"], machine["cores"], machine["omp_num_threads"], " ".join(flags), machine["mxnet"],
             recipe.dtype, peak))
    print("network: %s %s, input %s, %s" % (recipe.model, json.dumps(recipe.model_kwargs), "x".join(map(str, shape)),
                                          "the recipe's real data and augmentation" if real_data else "synthetic data"))
    results = []
    for batch in [int(b) for b in args.batches.split(",")]:
        ms, macs, ops = profile(recipe, batch, shape, args.classes, real_data, args.iters, args.blocks, args.operators)
        names = list(ms)
        rows = []
        for i, name in enumerate(names):
            part = ms[name] - ms[names[i + 1]] if i + 1 < len(names) else ms[name]
            rows.append({"rung": name, "ms": ms[name], "ips": 1000 * batch / ms[name], "part": part,
                         "share": 100 * part / ms[names[0]]})
        last = names[-1]  # "convolutions only", or under bfloat16 the whole forward + backward
        convs = 3 * 2 * macs * batch / (ms[last] / 1000) / 1e9  # fwd + 2x bwd
        print("\nbatch %d (%.1f M multiply-adds per image forward)" % (batch, macs / 1e6))
        print(markdown_table(rows, [("rung", "rung", "%s"), ("ms/step", "ms", "%.1f"), ("img/s", "ips", "%.0f"),
                                   ("its part (ms)", "part", "%.1f"), ("share of the step", "share", "%.0f%%")]))
        print("%s: %.0f GFLOP/s = %.0f%% of the GEMM peak; the whole first rung: %.0f%%"
              % (last, convs, 100 * convs / peak, 100 * convs * ms[last] / ms[names[0]] / peak))
        if ops:
            total = sum(t for _, t in ops)
            print("\noperators of the \"data on the device\" step, bulk execution off (%.1f ms/step in all; "
                  "a fresh graph; the rungs above ran bulked, as in training):" % total)
            print(markdown_table([{"op": op, "ms": t, "share": 100 * t / total} for op, t in ops if t >= 0.005 * total],
                                 [("operator", "op", "%s"), ("ms/step", "ms", "%.1f"), ("share", "share", "%.0f%%")]))
        results.append({"batch": batch, "ms": ms, "macs": macs, "conv_gflops": convs, "operators": ops})
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "step_profile.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "gemm_gflops": peak,
                            "recipe": recipe.to_dict(), "shape": shape, "results": results}) + "\n")


if __name__ == "__main__":
    main()
