#!/usr/bin/env python
"""What each network costs to deploy on this CPU: parameters, multiply-adds, top-1, and batch-1 latency
(p50) in float32 and int8, for every model this repository publishes and GluonCV's ImageNet
mobilenet1.0, mobilenetv2_1.0, resnet50_v1d and resnext50_32x4d.

float32 runs the graph :class:`gluon_tricks.inference.Predictor` runs (BN + ReLU apart, so oneDNN fuses
them into the convolution); int8 is MXNet's oneDNN quantization calibrated on random inputs (thresholds
change the accuracy, not the speed, so the int8 top-1 comes from ``evaluate.py --int8``, not from here).
The models are measured one after the other, float32 then int8 for each, in one process; every record
line carries the machine. ``--table`` rewrites bench/results/deployment.md from the newest record of each
model (the CPU named beside its figures).

    python bench/deployment.py                      # measure all, append to bench/results/deployment.jsonl
    python bench/deployment.py --models mobilenet1.0 --iters 50
    python bench/deployment.py --table
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gluon_tricks  # noqa: E402,F401  (sets OMP_NUM_THREADS before MXNet loads)
import mxnet as mx  # noqa: E402

from gluon_tricks import zoo  # noqa: E402
from gluon_tricks.benchmark import inference_latency  # noqa: E402
from gluon_tricks.inference import hybridize_fused  # noqa: E402
from gluon_tricks.machine import cpu_flags, machine_info  # noqa: E402
from gluon_tricks.models import inference_graph  # noqa: E402
from gluon_tricks.models.complexity import complexity  # noqa: E402
from gluon_tricks.quantize import INT8_FAST_FLAGS, QuantizationUnsupported, quantize_net  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD = os.path.join(HERE, "results", "deployment.jsonl")
TABLE = os.path.join(HERE, "results", "deployment.md")
IMAGENET = ["mobilenet1.0", "mobilenetv2_1.0", "resnet50_v1d", "resnext50_32x4d"]


def default_models():
    return sorted(e.name for e in zoo.entries() if e.source != "gluoncv" and e.default) + IMAGENET


def measure(name, iters, ctx):
    e = zoo.entry(name)
    inputs = e.inputs
    shape = (inputs.channels, inputs.input_size, inputs.input_size)
    settings = dict(e.settings, **({"fused_bn_relu": False} if e.settings.get("fused_bn_relu") else {}))
    net = zoo.get_model(name, classes=inputs.classes, **settings)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net(mx.nd.zeros((1,) + shape, ctx=ctx))
    params, macs = complexity(net, shape)
    row = {"model": name, "input": "%dx%dx%d" % shape, "params_m": params / 1e6, "gmacs": macs / 1e9,
           "top1": e.top1, "eval_set": inputs.eval_set}
    hybridize_fused(inference_graph(net), ctx)
    row["float32"] = inference_latency(net, 1, shape, iters, 5, ctx)
    try:
        qnet = quantize_net(net, shape, mx.nd.random.normal(shape=(32,) + shape, ctx=ctx), "naive", ctx=ctx)
        row["int8"] = inference_latency(qnet, 1, shape, iters, 5, ctx)
    except QuantizationUnsupported as err:
        row["int8_error"] = str(err)
    return row


HEADER = ("model", "input", "params (M)", "GMACs", "top-1 %", "on", "float32 p50 ms", "int8 p50 ms", "int8 / float32",
          "CPU")


def table_rows(record=RECORD):
    """The table's cells, one row per model (its newest record), the published models first."""
    newest = {}
    for line in open(record):
        r = json.loads(line)
        newest[r["model"]] = r
    order = {name: i for i, name in enumerate(default_models())}
    rows = []
    for r in sorted(newest.values(), key=lambda r: (order.get(r["model"], len(order)), r["model"])):
        f32 = r["float32"]["p50_ms"]
        i8 = r.get("int8", {}).get("p50_ms")
        m = r["machine"]
        rows.append(["`%s`" % r["model"], r["input"], "%.2f" % r["params_m"], "%.3f" % r["gmacs"],
                     "%.2f" % r["top1"] if r["top1"] else "", r["eval_set"].split(" (")[0], "%.2f" % f32,
                     "%.2f" % i8 if i8 else "fails", "%.2fx" % (i8 / f32) if i8 else "",
                     "%s (%s)" % (m["cpu"], ", ".join(m.get("cpu_int8") or ["no int8 flags"]))])
    return rows


def write_table(record=RECORD, path=TABLE):
    lines = ["# Deployment: cost and batch-1 latency per network", "",
             "Written by `python bench/deployment.py --table` from `bench/results/deployment.jsonl` (the newest "
             "record of each model). Latency: batch 1, p50 over the record's iterations; float32 is the graph "
             "`Predictor` runs, int8 MXNet's oneDNN quantization. Top-1 is the published figure (float32).", "",
             "| %s |" % " | ".join(HEADER), "|%s" % ("---|" * len(HEADER))]
    lines += ["| %s |" % " | ".join(row) for row in table_rows(record)]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def rst_table(record=RECORD):
    """The same table as reStructuredText, for the results pages."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [list(HEADER)] + [[c.replace("`", "``") for c in row] for row in table_rows(record)]:
        lines += ["   * - %s" % (row[0] or "\\-")] + ["     - %s" % (c or "\\-") for c in row[1:]]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", help="published or registry names with published weights (default: "
                                               "this repository's models and four GluonCV ImageNet networks)")
    p.add_argument("--iters", type=int, default=50, help="timed batch-1 calls per precision (default 50)")
    p.add_argument("--record", default=RECORD, help="JSON lines to append to")
    p.add_argument("--output", default=TABLE, help="the Markdown table to write (default bench/results/deployment.md)")
    p.add_argument("--table", action="store_true", help="only rewrite the table from the record")
    args = p.parse_args()
    if args.table:
        print(open(write_table(args.record, args.output)).read())
        return
    ctx = mx.cpu()
    machine = dict(machine_info(), cpu_int8=sorted(cpu_flags() & set(INT8_FAST_FLAGS)))
    print("machine: %(cpu)s, %(cores)s cores, OMP_NUM_THREADS=%(omp_num_threads)s, MXNet %(mxnet)s, "
          "int8 flags %(cpu_int8)s" % machine)
    os.makedirs(os.path.dirname(args.record), exist_ok=True)
    for name in args.models or default_models():
        row = measure(name, args.iters, ctx)
        row.update(time=time.strftime("%Y-%m-%d %H:%M"), machine=machine, iters=args.iters)
        with open(args.record, "a") as f:
            f.write(json.dumps(row) + "\n")
        print("%-40s float32 %.2f ms  int8 %s" % (name, row["float32"]["p50_ms"], "%.2f ms" % row["int8"]["p50_ms"]
                                                   if "int8" in row else row.get("int8_error")), flush=True)
    print(open(write_table(args.record, args.output)).read())


if __name__ == "__main__":
    main()
