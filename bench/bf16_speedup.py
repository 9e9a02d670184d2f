#!/usr/bin/env python
"""bfloat16 (MXNet AMP, oneDNN) against float32 training and inference throughput on CPU.

MXNet's AMP patches operators for the whole process, so each dtype is measured in its own
subprocess, one after the other, by this one script. Also measures the GEMM limit of each
dtype (FullyConnected 4096^3) so the model figures can be read against the machine.
Prints the CPU model and its flags beside every figure; appends to bench/results/bf16.jsonl.

    python bench/bf16_speedup.py                       # resnet50_v1b, 224 px, batch 32
    python bench/bf16_speedup.py --model cifar_resnet20_v1b --size 28 --channels 1 --batch 128
    python bench/bf16_speedup.py --model cifar_resnet9 --size 28 --channels 1 --batch 512 \
        --model-kwargs '{"channels": [16, 32, 64, 128], "fused_bn_relu": true}'
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(args):
    """Runs inside the subprocess: one dtype."""
    import gluon_tricks  # noqa: F401  (sets OMP_NUM_THREADS before MXNet loads)
    import mxnet as mx
    from gluon_tricks.machine import gemm_gflops
    from gluon_tricks.train import Precision, Recipe
    from gluon_tricks.train.step import Stepper, build_loss, build_trainer
    from gluon_tricks.zoo import ready_network
    precision = Precision(args.dtype).activate()
    ctx = [mx.cpu()]
    gflops = gemm_gflops(4096, 5, args.dtype)  # the GEMM limit of this dtype

    x = mx.nd.random.uniform(shape=(args.batch, args.channels, args.size, args.size))
    y = mx.nd.array([i % 10 for i in range(args.batch)])
    recipe = Recipe(model=args.model, batch_size=args.batch, dtype=args.dtype, lr=0.01)
    net = precision.prepare(ready_network(args.model, 10, x[:1], ctx, **json.loads(args.model_kwargs)))
    trainer = build_trainer(recipe, net, precision=precision)
    stepper = Stepper(recipe, net, trainer, build_loss(recipe), ctx, 10, precision=precision)

    def train_step():
        stepper(x, y, 0, None)

    def timed(fn, iters):
        for _ in range(2):
            fn()
            mx.nd.waitall()
        tic = time.time()
        for _ in range(iters):
            fn()
        mx.nd.waitall()  # the last backward and update too, not only the last output
        return args.batch * iters / (time.time() - tic)
    train = timed(train_step, args.iters)
    infer = timed(lambda: net(x), args.iters)
    print(json.dumps({"dtype": args.dtype, "gemm_gflops": gflops, "train_img_per_s": train, "infer_img_per_s": infer}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet50_v1b")
    p.add_argument("--model-kwargs", default="{}", help="JSON keyword arguments for the network, e.g. "
                   "'{\"channels\": [16, 32, 64, 128], \"fused_bn_relu\": true}' (the fast recipes' ResNet-9)")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--iters", type=int, default=12,
                   help="timed steps per figure (8 read bf16 training 1.39x where 12 read 1.77x on one Zen 4)")
    p.add_argument("--dtype", help=argparse.SUPPRESS)  # set for the subprocesses
    args = p.parse_args()
    if args.dtype:
        return measure(args)
    from gluon_tricks.machine import machine_info
    from gluon_tricks.train.precision import PrecisionUnsupported, check_dtype
    import mxnet as mx
    machine = machine_info()
    print("machine: %(cpu)s, %(cores)s cores, OMP_NUM_THREADS=%(omp_num_threads)s, bf16 flags %(cpu_bf16)s, "
          "MXNet %(mxnet)s" % machine)
    try:
        check_dtype("bfloat16", [mx.cpu()])
    except PrecisionUnsupported as err:
        print("skipped: %s" % err)
        return
    results = {}
    for dtype in ("float32", "bfloat16"):
        cmd = [sys.executable, os.path.abspath(__file__), "--dtype", dtype] + \
              ["--%s=%s" % (k.replace("_", "-"), v) for k, v in vars(args).items() if k != "dtype"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        results[dtype] = json.loads(out)
    f32, b16 = results["float32"], results["bfloat16"]
    print("%s, %dx%dx%d, batch %d" % (args.model, args.channels, args.size, args.size, args.batch))
    print("| | float32 | bfloat16 | speed-up |")
    print("|---|---|---|---|")
    for key, label in (("gemm_gflops", "GEMM 4096^3 (GFLOP/s)"), ("train_img_per_s", "training (img/s)"),
                       ("infer_img_per_s", "inference (img/s)")):
        print("| %s | %.1f | %.1f | %.2fx |" % (label, f32[key], b16[key], b16[key] / f32[key]))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "bf16.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "args": vars(args),
                            "results": results}) + "\n")


if __name__ == "__main__":
    main()
