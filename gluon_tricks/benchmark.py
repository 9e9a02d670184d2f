"""Throughput and latency on synthetic data, and model complexity (parameters, multiply-adds).

Training is timed through the real training step (:class:`~gluon_tricks.train.loop.Stepper`:
smoothed targets, loss, backward, optimizer update); inference is timed per batch, each batch
waited for, so latency percentiles are real per-call times (NVIDIA's ``--prof`` tables)."""
import json
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from .inference import hybridize_fused
from .models import registered_names, construct, inference_graph
from .models.registry import natural_key
from .train import Precision, Recipe
from .train.step import Meter, Stepper, build_loss, build_trainer
from .models.complexity import complexity  # noqa: F401  (part of this module's interface)
from .zoo import ready_network, versions

def input_shape(model, size=None):
    """(C, H, W), 3 channels: ``size``, else the size the model's published weights expect (299 px for
    Inception-V3), else 32 px for the small-input family and 224 px otherwise."""
    from .zoo import catalog
    if not size and model in catalog.published_names():
        size = catalog.entry(model).inputs.input_size
    size = size or (32 if model.startswith("cifar_") else 224)
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
    net = precision.prepare(ready_network(model, classes, mx.nd.zeros((1,) + tuple(shape)), [ctx]))
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


def speed_rows(model, batches, shape, precision, mode="both", steps=10, warmup=3, classes=1000, ctx=None,
               fuse=True):
    """(rows, params, multiply-adds): per batch size, inference latency and/or training img/s
    under ``precision``; complexity only for float32 (AMP's casts would count as layers). float32
    inference runs the graph a :class:`~gluon_tricks.inference.Predictor` runs (oneDNN's fused
    one where it exists), or with ``fuse=False`` the plain graph."""
    ctx = ctx or mx.cpu()
    net = precision.activate().prepare(ready_network(model, classes, mx.nd.zeros((1,) + tuple(shape)), [ctx]))
    params, macs = complexity(net, shape) if precision.dtype == "float32" else (None, None)
    if precision.dtype == "float32" and mode != "train":
        hybridize_fused(inference_graph(net), ctx, fuse)
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


def int8_rows(model, batches, shape, steps=10, warmup=3, classes=1000, ctx=None):
    """Inference latency rows of an int8 copy of ``model`` (freshly initialised; calibrated 'naive' on
    random inputs: thresholds change the speed of nothing, only the accuracy, which this does not
    measure)."""
    from .quantize import check_int8, quantize_net
    ctx = ctx or mx.cpu()
    check_int8(ctx)
    net = ready_network(model, classes, mx.nd.zeros((1,) + tuple(shape)), [ctx])
    net.hybridize()
    qnet = quantize_net(net, shape, _batch(shape, 64, classes, ctx)[0], "naive", ctx=ctx)
    return [inference_latency(qnet, batch, shape, steps, warmup, ctx) for batch in batches]


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


STRIPPABLE = {"bn": ("BatchNorm", "_contrib_BatchNormWithReLU"), "relu": ("Activation",)}


def without_ops(net, remove=("bn", "relu")):
    """A hybridized block sharing ``net``'s (initialised) parameters whose graph lacks the operators named in
    ``remove`` (keys of :data:`STRIPPABLE`): each removed node's consumers read its input instead.
    What is left costs what the step would cost without them ("How to train your ResNet" timed
    its step this way); the fused BN+ReLU operator goes with "bn"."""
    ops = {op for key in remove for op in STRIPPABLE[key]}
    graph = json.loads(net(mx.sym.var("data")).tojson())
    alias = {}

    def source(entry):
        while entry[0] in alias:
            entry = alias[entry[0]]
        return entry
    for i, node in enumerate(graph["nodes"]):
        node["inputs"] = [source(e) for e in node["inputs"]]
        if node["op"] in ops:
            alias[i] = node["inputs"][0]
    graph["heads"] = [source(e) for e in graph["heads"]]
    block = gluon.SymbolBlock(mx.sym.load_json(json.dumps(graph)), mx.sym.var("data"), params=net.collect_params())
    block.hybridize(static_alloc=True, static_shape=True)
    return block


def timed(step, iters):
    """Seconds for ``iters`` calls of ``step`` (each returns an NDArray to wait on), at most two in
    flight as in ``fit``: the engine overlaps a step with the next one's Python work, no more."""
    previous = None
    mx.nd.waitall()
    tic = time.perf_counter()
    for _ in range(iters):
        out = step()
        if previous is not None:
            previous.wait_to_read()
        previous = out
    mx.nd.waitall()
    return time.perf_counter() - tic


def published_top1(name):
    """The ImageNet top-1 (%) published for ``name``'s default weights, or None."""
    found = [e for e in versions(name) if e.default and e.inputs.classes == 1000]
    return found[0].top1 if found else None


def compare_models(pattern="resnet*_v1d", batch=32, size=None, iters=3, classes=1000):
    """One row per registry model matching ``pattern``: params, GMACs, fwd+bwd ms, published top-1."""
    rows = []
    for name in sorted(registered_names(pattern), key=natural_key):
        shape = input_shape(name, size)
        net = construct(name, classes=classes)
        net.initialize(mx.init.Xavier())
        params, macs = complexity(net, shape)
        net.hybridize(static_alloc=True, static_shape=True)
        rows.append({"model": name, "params_m": params / 1e6, "gmacs": macs / 1e9,
                     "fwd_bwd_ms": forward_backward_ms(net, batch, shape, iters), "batch": batch,
                     "input": "%dx%dx%d" % shape, "published_top1": published_top1(name)})
    return rows


def markdown_table(rows, columns):
    """``columns``: (header, key, format) triples."""
    lines = ["| " + " | ".join(c[0] for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [("" if row.get(key) is None else fmt % row[key]) for _, key, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
