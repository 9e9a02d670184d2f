#!/usr/bin/env python
"""Peak resident memory of training: our step against GluonCV's loop, each in a fresh process.

Each side builds its network (GluonCV's own model for its loop, ours of the same name for our
Stepper; the sides of bench/trainer_vs_gluoncv.py), trains --steps steps on one synthetic batch,
and reports the process's peak resident set (getrusage's ru_maxrss: MXNet's pooled allocator
keeps what a step needed, so the peak is what a machine must have) and the resident set just
before the first step (Python, MXNet, the weights). Prints both sides, the ratio ours/GluonCV of
the peak and of the training's own share (peak minus that baseline), the CPU and its flags, and
appends the record to bench/results/peak_memory.jsonl.

    python bench/peak_memory.py                                    # resnet50_v1d, 224 px, batch 32
    python bench/peak_memory.py --model cifar_resnet20_v1 --size 28 --channels 1 --batch 128 --classes 10
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def measure(side, args):
    """In the child process: build, step, report {baseline_mb, peak_mb}."""
    import gluon_tricks  # noqa: F401  (OMP_NUM_THREADS)
    import mxnet as mx
    from trainer_vs_gluoncv import gluoncv_loop, our_loop
    x = mx.nd.random.uniform(shape=(args.batch, args.channels, args.size, args.size))
    y = mx.nd.array([i % args.classes for i in range(args.batch)])
    step = gluoncv_loop(args.model, x, y, args.classes) if side == "gluoncv" else \
        our_loop(args.model, x, y, args.classes, json.loads(args.settings) if side == "ours+" else None)
    mx.nd.waitall()
    baseline = current_rss_mb()
    for _ in range(args.steps):
        step().wait_to_read()
    mx.nd.waitall()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {"side": side, "baseline_mb": baseline, "peak_mb": peak}


def main():
    from trainer_vs_gluoncv import add_side_arguments
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_side_arguments(p)
    p.add_argument("--steps", type=int, default=4, help="training steps per side (the peak comes with the first)")
    p.add_argument("--settings", help='our model\'s settings as JSON for a third side "ours+", e.g. '
                                      '\'{"fused_bn_relu": true}\'')
    p.add_argument("--side", help=argparse.SUPPRESS)  # the child process
    args = p.parse_args()
    if args.side:
        print(json.dumps(measure(args.side, args)))
        return
    sides = ["gluoncv", "ours"] + (["ours+"] if args.settings else [])
    child = sys.argv[1:]
    results = {}
    for side in sides:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--side", side] + child, check=True,
                             capture_output=True, text=True).stdout
        results[side] = json.loads(out.strip().splitlines()[-1])
    import gluon_tricks  # noqa: F401
    from gluon_tricks.machine import cpu_flags, machine_info
    machine = machine_info()
    flags = " ".join(sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni"}))
    print("machine: %s, %s cores, OMP_NUM_THREADS=%s, flags %s, MXNet %s" % (
        machine["cpu"], machine["cores"], machine["omp_num_threads"], flags, machine["mxnet"]))
    print("%s, %dx%dx%d, batch %d, float32, %d steps per side, each side in a fresh process" % (
        args.model, args.channels, args.size, args.size, args.batch, args.steps))
    print("| side | before the first step (MB) | peak (MB) | training's share (MB) |")
    print("|---|---|---|---|")
    for side, r in results.items():
        print("| %s | %.0f | %.0f | %.0f |" % (side, r["baseline_mb"], r["peak_mb"], r["peak_mb"] - r["baseline_mb"]))
    theirs, ours = results["gluoncv"], results["ours"]
    print("peak ours/GluonCV %.3f; training's share ours/GluonCV %.3f" % (
        ours["peak_mb"] / theirs["peak_mb"],
        (ours["peak_mb"] - ours["baseline_mb"]) / (theirs["peak_mb"] - theirs["baseline_mb"])))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "peak_memory.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine,
                            "args": {k: v for k, v in vars(args).items() if k != "side"}, "results": results}) + "\n")


if __name__ == "__main__":
    main()
