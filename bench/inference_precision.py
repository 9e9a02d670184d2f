#!/usr/bin/env python
"""Inference side by side: float32 (the plain graph, and oneDNN's fused graph that Predictor runs),
bfloat16 (MXNet AMP), int8 (MXNet's oneDNN quantization) and ONNX Runtime (float32) on the same
CPU in one run: batch-32 img/s and batch-1 latency p50/p99.

Each MXNet precision runs in its own subprocess (AMP patches operators process-wide) through
``scripts/benchmark.py --mode inference``; ONNX Runtime runs the float32 network exported by
``gluon_tricks.export``. bfloat16 is skipped (and said so) on CPUs without avx512_bf16 or AMX.
Prints a table with ratios to float32 and the CPU's flags; appends to
bench/results/inference_precision.jsonl.

    python bench/inference_precision.py                                     # resnet50_v1d, 224 px
    python bench/inference_precision.py --model cifar_resnet20_v1b --size 28 --classes 10
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARK = os.path.join(os.path.dirname(HERE), "scripts", "benchmark.py")


def mxnet_rows(args, dtype, folder, *extra):
    out = os.path.join(folder, dtype + "".join(extra) + ".json")
    cmd = [sys.executable, BENCHMARK, "--model", args.model, "--mode", "inference", "--dtype", dtype,
           "--batch-sizes", "1,%d" % args.batch, "--prof", str(args.iters), "--warmup", "5",
           "--classes", str(args.classes), "--json", out, *extra] + (["--size", str(args.size)] if args.size else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["exit %d" % done.returncode])[-1]}
    return {row["batch"]: row for row in json.load(open(out))["rows"]}


def onnx_rows(args, folder):
    import numpy as np
    import mxnet as mx
    import onnxruntime
    from gluon_tricks.benchmark import input_shape
    from gluon_tricks.export import to_onnx
    from gluon_tricks.models import inference_graph
    from gluon_tricks.zoo import ready_network
    shape = input_shape(args.model, args.size)
    net = inference_graph(ready_network(args.model, args.classes, mx.nd.zeros((1,) + shape), [mx.cpu()]))
    net.hybridize()
    net(mx.nd.zeros((1,) + shape))
    prefix = os.path.join(folder, "net")
    net.export(prefix, 0)
    path = to_onnx(prefix + "-symbol.json", prefix + "-0000.params", shape, prefix + ".onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count())
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    rows = {}
    for batch in (1, args.batch):
        x = np.random.default_rng(0).standard_normal((batch,) + shape).astype(np.float32)
        for _ in range(5):
            session.run(None, {"data": x})
        times = []
        for _ in range(args.iters):
            tic = time.perf_counter()
            session.run(None, {"data": x})
            times.append(1000 * (time.perf_counter() - tic))
        times = np.asarray(times)
        rows[batch] = {"batch": batch, "img_per_s": batch * 1000 / times.mean(),
                       "p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet50_v1d")
    p.add_argument("--size", type=int, help="input size (default: 224, 32 for cifar_*)")
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32, help="throughput batch (default 32)")
    p.add_argument("--iters", type=int, default=30, help="timed calls per measurement (default 30)")
    args = p.parse_args()
    import gluon_tricks  # noqa: F401  (sets OMP_NUM_THREADS)
    from gluon_tricks.machine import cpu_flags, machine_info
    machine = machine_info()
    flags = cpu_flags()
    shown = sorted(f for f in flags if f.startswith(("avx512", "amx", "avx_vnni")) or f in ("avx2", "fma"))
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["float32"] = mxnet_rows(args, "float32", folder, "--no-fuse")
        results["float32, oneDNN fused graph"] = mxnet_rows(args, "float32", folder)
        results["bfloat16"] = (mxnet_rows(args, "bfloat16", folder) if machine["cpu_bf16"]
                               else {"error": "no avx512_bf16 or AMX on this CPU"})
        results["int8"] = mxnet_rows(args, "int8", folder)
        try:
            results["onnxruntime"] = onnx_rows(args, folder)
        except ImportError as err:
            results["onnxruntime"] = {"error": "onnxruntime/onnx not installed (%s)" % err}
    print("machine: %s, %s cores, OMP_NUM_THREADS=%s, MXNet %s" % (
        machine["cpu"], machine["cores"], machine["omp_num_threads"], machine["mxnet"]))
    print("flags: " + " ".join(shown))
    print("%s, input %s px, one run, each precision measured one after the other\n" % (args.model, args.size or "default"))
    base = results["float32"]
    print("| precision | batch %d img/s | vs float32 | batch 1 p50 ms | p99 ms | p50 vs float32 |" % args.batch)
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        if "error" in rows:
            print("| %s | %s | | | | |" % (name, rows["error"]))
            continue
        big, one = rows[args.batch], rows[1]
        ratio = big["img_per_s"] / base[args.batch]["img_per_s"] if "error" not in base else float("nan")
        lat = one["p50_ms"] / base[1]["p50_ms"] if "error" not in base else float("nan")
        print("| %s | %.1f | %.2fx | %.2f | %.2f | %.2fx |" % (name, big["img_per_s"], ratio, one["p50_ms"],
                                                             one["p99_ms"], lat))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "inference_precision.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "flags": shown,
                            "args": vars(args), "results": {k: {str(b): r for b, r in v.items()}
                                                            for k, v in results.items()}}) + "\n")


if __name__ == "__main__":
    main()
