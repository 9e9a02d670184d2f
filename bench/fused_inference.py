#!/usr/bin/env python
"""float32 inference: the plain graph against oneDNN's fused one (MXNet's MKLDNN subgraph backend:
each BN folded into its convolution, ReLU and residual addition fused), which Predictor,
evaluate.py and classify.py run on CPU. Both networks live in one process and are timed in
alternating rounds, so a noisy host moves both alike; prints p50 latencies and their ratio
with the CPU and its flags, and appends to bench/results/fused_inference.jsonl.

    python bench/fused_inference.py                                   # resnet50_v1d and cifar_resnet20_v1b
    python bench/fused_inference.py --models resnet50_v1d --batches 1,32 --iters 10 --rounds 3
"""
import argparse
import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {"cifar_": (1, 28, 28)}  # the small-input family as Fashion-MNIST feeds it; others 3x224x224


def measure(name, batches, iters, rounds):
    import mxnet as mx
    import numpy as np
    from gluon_tricks.inference import hybridize_fused
    from gluon_tricks.models import inference_graph
    from gluon_tricks.zoo import ready_network
    shape = next((s for prefix, s in SHAPES.items() if name.startswith(prefix)), (3, 224, 224))
    nets = {tag: hybridize_fused(inference_graph(ready_network(name, 10, mx.nd.zeros((1,) + shape), [mx.cpu()])),
                                 mx.cpu(), tag == "fused") for tag in ("plain", "fused")}
    rows = []
    for batch in batches:
        x = mx.nd.random.uniform(shape=(batch,) + shape)
        times = {tag: [] for tag in nets}
        for _ in range(rounds):
            for tag, net in nets.items():
                for _ in range(3):
                    net(x).wait_to_read()
                for _ in range(iters):
                    tic = time.perf_counter()
                    net(x).wait_to_read()
                    times[tag].append(1000 * (time.perf_counter() - tic))
        p50 = {tag: float(np.median(t)) for tag, t in times.items()}
        rows.append({"model": name, "input": "%dx%dx%d" % shape, "batch": batch, "plain_p50_ms": p50["plain"],
                     "fused_p50_ms": p50["fused"], "fused_over_plain": p50["fused"] / p50["plain"]})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet50_v1d,cifar_resnet20_v1b")
    p.add_argument("--batches", default="1,32", help="batch sizes (default 1,32)")
    p.add_argument("--iters", type=int, default=10, help="timed calls per round (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = p.parse_args()
    import gluon_tricks  # noqa: F401  (OMP_NUM_THREADS)
    from gluon_tricks.machine import cpu_flags, machine_info
    machine = machine_info()
    flags = sorted(f for f in cpu_flags() if f.startswith(("avx512", "amx", "avx_vnni")) or f in ("avx2", "fma"))
    batches = [int(b) for b in args.batches.split(",")]
    rows = [r for name in args.models.split(",") for r in measure(name, batches, args.iters, args.rounds)]
    print("machine: %s, %s cores, OMP_NUM_THREADS=%s, MXNet %s; flags: %s" % (
        machine["cpu"], machine["cores"], machine["omp_num_threads"], machine["mxnet"], " ".join(flags)))
    print("| model | input | batch | plain p50 ms | fused p50 ms | fused / plain |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %d | %.2f | %.2f | %.2fx |" % (r["model"], r["input"], r["batch"], r["plain_p50_ms"],
                                                       r["fused_p50_ms"], r["fused_over_plain"]))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "fused_inference.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "flags": flags,
                            "args": vars(args), "rows": rows}) + "\n")


if __name__ == "__main__":
    main()
