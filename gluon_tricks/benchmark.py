"""Throughput and latency on synthetic data, and model complexity (parameters, multiply-adds).

Training is timed through the real training step (:class:`~gluon_tricks.train.loop.Stepper`:
smoothed targets, loss, backward, optimizer update); inference is timed per batch, each batch
waited for, so latency percentiles are real per-call times (NVIDIA's ``--prof`` tables)."""
import json
import re
import time

import mxnet as mx
import numpy as np
from mxnet import autograd

from .models import get_model, list_models
from .train import Precision, Recipe
from .train.step import Meter, Stepper, build_loss, build_trainer
from .zoo import build_net

# GluonCV's published ImageNet top-1 (%) for the weights our architectures load (GluonCV model zoo;
# the v1 and v2 rows are MXNet's original Gluon weights, republished by GluonCV).
PUBLISHED_TOP1 = {
    "resnet18_v1": 70.93, "resnet34_v1": 74.37, "resnet50_v1": 77.36, "resnet101_v1": 78.34, "resnet152_v1": 79.22,
    "resnet18_v2": 71.00, "resnet34_v2": 74.40, "resnet50_v2": 77.11, "resnet101_v2": 78.53, "resnet152_v2": 79.21,
    "resnet18_v1b": 70.94, "resnet34_v1b": 74.65, "resnet50_v1b": 77.67, "resnet101_v1b": 79.20,
    "resnet152_v1b": 79.69, "resnet50_v1c": 78.03, "resnet101_v1c": 79.60, "resnet152_v1c": 80.01,
    "resnet50_v1d": 79.15, "resnet101_v1d": 80.51, "resnet152_v1d": 80.61,
}


def input_shape(model, size=None):
    """(C, H, W): 32 px 3-channel for the small-input family, 224 px otherwise, unless ``size``."""
    small = model.startswith("cifar_")
    size = size or (32 if small else 224)
    return (3, size, size)


def _batch(shape, batch, classes, ctx, seed=0):
    rng = np.random.default_rng(seed)
    x = mx.nd.array(rng.standard_normal((batch,) + tuple(shape)).astype(np.float32), ctx=ctx)
    y = mx.nd.array(rng.integers(0, classes, batch), ctx=ctx)
    return x, y


def training_speed(model, batch, shape, dtype="float32", steps=10, warmup=3, classes=1000, ctx=None, **recipe):
    """Images per second of full training steps (our Stepper) on one synthetic batch."""
    ctx = ctx or mx.cpu()
    r = Recipe(model=model, dtype=dtype, batch_size=batch, lr=0.01, **recipe)
    precision = Precision(dtype).activate()
    net = precision.prepare(build_net(model, classes, mx.nd.zeros((1,) + tuple(shape)), [ctx]))
    trainer = build_trainer(r, net, precision=precision)
    stepper = Stepper(r, net, trainer, build_loss(r), [ctx], classes, precision=precision)
    x, y = _batch(shape, batch, classes, ctx)
    meter = Meter()

    def run(n):
        previous = None
        for _ in range(n):
            _, done = stepper(x, y, 0, None)
            for item in done:
                meter.add(*item)
            if previous is not None:  # two steps in flight, as in fit()
                previous.wait_to_read()
            previous = done[-1][0][-1]
        mx.nd.waitall()
    run(warmup)
    tic = time.perf_counter()
    run(steps)
    seconds = time.perf_counter() - tic
    return {"model": model, "batch": batch, "dtype": dtype, "steps": steps, "img_per_s": batch * steps / seconds,
            "step_ms": 1000 * seconds / steps}


def speed_rows(model, batches, shape, precision, mode="both", steps=10, warmup=3, classes=1000, ctx=None):
    """(rows, params, multiply-adds): per batch size, inference latency and/or training img/s
    under ``precision``; complexity only for float32 (AMP's casts would count as layers)."""
    ctx = ctx or mx.cpu()
    net = precision.activate().prepare(build_net(model, classes, mx.nd.zeros((1,) + tuple(shape)), [ctx]))
    params, macs = complexity(net, shape) if precision.dtype == "float32" else (None, None)
    rows = []
    for batch in batches:
        row = {"batch": batch}
        if mode != "train":
            row.update(inference_latency(net, batch, shape, steps, warmup, ctx, precision.input_dtype))
        if mode != "inference":
            trained = training_speed(model, batch, shape, precision.dtype, steps, warmup, classes, ctx)
            row.update(train_img_per_s=trained["img_per_s"], train_step_ms=trained["step_ms"])
        rows.append(row)
    return rows, params, macs


def inference_latency(net, batch, shape, iters=20, warmup=3, ctx=None, dtype="float32"):
    """Per-batch latency (ms: avg, p50, p90, p95, p99) and img/s of ``net`` in inference mode."""
    ctx = ctx or mx.cpu()
    x = _batch(shape, batch, 2, ctx)[0].astype(dtype)
    for _ in range(warmup):
        net(x).wait_to_read()
    times = []
    for _ in range(iters):
        tic = time.perf_counter()
        net(x).wait_to_read()
        times.append(1000 * (time.perf_counter() - tic))
    times = np.asarray(times)
    report = {"batch": batch, "iters": iters, "avg_ms": float(times.mean()),
              "img_per_s": float(batch * 1000 / times.mean())}
    report.update({"p%d_ms" % q: float(np.percentile(times, q)) for q in (50, 90, 95, 99)})
    return report


def complexity(net, shape):
    """(parameters, multiply-adds per image) of a Gluon network, from its graph's shapes: every
    Convolution and FullyConnected counts weight elements x output positions (the convention
    under which ResNet-50 is "4.1 GFLOPs")."""
    data = mx.sym.var("data")
    sym = net(data)
    if isinstance(sym, (list, tuple)):
        sym = sym[0]
    internals = sym.get_internals()
    arg_shapes, out_shapes, aux_shapes = internals.infer_shape(data=(1,) + tuple(shape))
    outputs = dict(zip(internals.list_outputs(), out_shapes))
    args = dict(zip(internals.list_arguments(), arg_shapes))
    params = sum(int(np.prod(s)) for name, s in args.items() if name != "data")
    nodes = json.loads(sym.tojson())["nodes"]
    macs = 0
    for node in nodes:
        if node["op"] not in ("Convolution", "FullyConnected"):
            continue
        weight = nodes[node["inputs"][1][0]]["name"]
        out = outputs[node["name"] + "_output"]
        positions = int(np.prod(out[2:])) if node["op"] == "Convolution" else 1
        macs += int(np.prod(args[weight])) * positions
    return params, macs


def forward_backward_ms(net, batch, shape, iters=3, warmup=1, ctx=None):
    """Milliseconds of one forward + backward pass (no optimizer), fb.resnet.torch's comparison."""
    x = _batch(shape, batch, 2, ctx or mx.cpu())[0]

    def once():
        with autograd.record():
            out = net(x)
        out.backward()
        mx.nd.waitall()
    for _ in range(warmup):
        once()
    tic = time.perf_counter()
    for _ in range(iters):
        once()
    return 1000 * (time.perf_counter() - tic) / iters


def compare_models(pattern="resnet*_v1d", batch=32, size=None, iters=3, classes=1000):
    """One row per registry model matching ``pattern``: params, GMACs, fwd+bwd ms, published top-1."""
    rows = []
    by_depth = lambda name: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]  # noqa: E731
    for name in sorted(list_models(pattern), key=by_depth):
        shape = input_shape(name, size)
        net = get_model(name, classes=classes)
        net.initialize(mx.init.Xavier())
        params, macs = complexity(net, shape)
        net.hybridize(static_alloc=True, static_shape=True)
        rows.append({"model": name, "params_m": params / 1e6, "gmacs": macs / 1e9,
                     "fwd_bwd_ms": forward_backward_ms(net, batch, shape, iters), "batch": batch,
                     "input": "%dx%dx%d" % shape, "published_top1": PUBLISHED_TOP1.get(name)})
    return rows


def markdown_table(rows, columns):
    """``columns``: (header, key, format) triples."""
    lines = ["| " + " | ".join(c[0] for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [("" if row.get(key) is None else fmt % row[key]) for _, key, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
