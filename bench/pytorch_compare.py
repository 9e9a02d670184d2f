#!/usr/bin/env python
"""Our MXNet models against plain PyTorch on the same CPU, in one run: batch-1 latency (p50, p99)
and batch-N throughput of inference, and training images per second.

PyTorch is a bench dependency only, in its own venv (its wheels want a newer numpy than MXNet
1.9.1 runs with):  python -m venv ~/torchvenv && ~/torchvenv/bin/pip install torch==2.13.0 numpy
The PyTorch networks are written here for the bench (ResNet-50-D and CIFAR ResNet-20 with the
same layers, shapes and parameter counts as ours) and run eager with channels_last, under
torch.compile, and with bfloat16 autocast. Ours: float32 (hybridized, static memory; for
inference also oneDNN's fused graph, each BN folded into its convolution, as Predictor runs it)
and int8 (MXNet's oneDNN quantization). Prints the CPU and its flags; appends to
bench/results/pytorch_compare.jsonl.

    python bench/pytorch_compare.py --torch-python ~/torchvenv/bin/python
    python bench/pytorch_compare.py --torch-python ~/torchvenv/bin/python --model cifar_resnet20_v1 --size 28
"""
import argparse
import json
import os
import sys
import time

import torch_venv

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_MODELS = {"resnet50_v1d": "resnet50d", "cifar_resnet20_v1": "resnet20"}


# ----------------------------------------------------------------------------- PyTorch side (its venv)

def torch_side(args):
    import numpy as np
    import torch
    from torch import nn
    from torch_models import resnet

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count()))

    shape = (args.channels, args.size, args.size)
    rows = {}
    net0 = resnet(TORCH_MODELS[args.model], args.classes, args.channels)
    rows["params"] = sum(p.numel() for p in net0.parameters())

    def timed(fn, iters, warmup):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(iters):
            tic = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - tic))
        return np.asarray(times)

    for mode in ("eager", "compile", "eager-bf16"):
        net = resnet(TORCH_MODELS[args.model], args.classes, args.channels).to(memory_format=torch.channels_last)
        net.eval()
        run = torch.compile(net) if mode == "compile" else net
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode.endswith("bf16"))
        out = {}
        with torch.inference_mode(), autocast:
            for batch in (1, args.batch):
                x = torch.randn((batch,) + shape).to(memory_format=torch.channels_last)
                t = timed(lambda: run(x), args.iters, 5)
                out[batch] = {"p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99)),
                              "img_per_s": float(batch * 1000 / t.mean())}
        net.train()
        run = torch.compile(net) if mode == "compile" else net
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
        x = torch.randn((args.batch,) + shape).to(memory_format=torch.channels_last)
        y = torch.randint(0, args.classes, (args.batch,))

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast:
                loss = nn.functional.cross_entropy(run(x), y)
            loss.backward()
            opt.step()
        t = timed(step, max(3, args.iters // 5), 2)
        out["train_img_per_s"] = float(args.batch * 1000 / t.mean())
        rows[mode] = out
    print(json.dumps(rows))


# ----------------------------------------------------------------------------- MXNet side (ours)

def mxnet_side(args):
    import gluon_tricks  # noqa: F401  (OMP_NUM_THREADS)
    import mxnet as mx
    from gluon_tricks.benchmark import inference_latency, int8_rows, training_speed
    from gluon_tricks.inference import hybridize_fused
    from gluon_tricks.models import inference_graph
    from gluon_tricks.zoo import ready_network
    shape = (args.channels, args.size, args.size)
    net = ready_network(args.model, args.classes, mx.nd.zeros((1,) + shape), [mx.cpu()])
    net.hybridize(static_alloc=True, static_shape=True)
    rows = {"params": sum(p.data().size for p in net.collect_params().values())}
    fp32 = {b: inference_latency(net, b, shape, args.iters, 5) for b in (1, args.batch)}
    fp32["train_img_per_s"] = training_speed(args.model, args.batch, shape, steps=max(3, args.iters // 5),
                                             warmup=2, classes=args.classes, label_smoothing=0.0)["img_per_s"]
    rows["ours float32"] = fp32
    hybridize_fused(inference_graph(net), mx.cpu())
    rows["ours float32 fused"] = {b: inference_latency(net, b, shape, args.iters, 5) for b in (1, args.batch)}
    rows["ours int8"] = {r["batch"]: r for r in int8_rows(args.model, (1, args.batch), shape, args.iters, 5,
                                                            args.classes)}
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet50_v1d", choices=sorted(TORCH_MODELS))
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--iters", type=int, default=30, help="timed calls per inference measurement")
    torch_venv.add_arguments(p)
    args = p.parse_args()
    if args.torch_side:
        return torch_side(args)
    torch_venv.check(args.torch_python)
    from gluon_tricks.machine import cpu_flags, machine_info
    ours = mxnet_side(args)
    theirs = torch_venv.run_side(args.torch_python, __file__, sys.argv[1:])
    machine = machine_info()
    flags = sorted(f for f in cpu_flags() if f.startswith(("avx512", "amx", "avx_vnni")) or f in ("avx2", "fma"))
    print("machine: %s, %s cores, OMP_NUM_THREADS=%s, MXNet %s; flags: %s" % (
        machine["cpu"], machine["cores"], machine["omp_num_threads"], machine["mxnet"], " ".join(flags)))
    print("%s, %dx%dx%d, parameters: ours %d, PyTorch's %d\n" % (args.model, args.channels, args.size, args.size,
                                                                 ours["params"], theirs["params"]))
    print("| side | batch 1 p50 ms | p99 ms | batch %d img/s | train img/s |" % args.batch)
    print("|---|---|---|---|---|")
    table = [(k, v) for k, v in ours.items() if k != "params"] + \
            [("PyTorch " + k, {int(b) if b.isdigit() else b: r for b, r in v.items()})
             for k, v in theirs.items() if k != "params"]
    for name, r in table:
        print("| %s | %.2f | %.2f | %.1f | %s |" % (name, r[1]["p50_ms"], r[1]["p99_ms"], r[args.batch]["img_per_s"],
                                                   "%.1f" % r["train_img_per_s"] if "train_img_per_s" in r else "-"))
    base = dict(table)
    for other in ("PyTorch eager", "PyTorch compile"):
        for side in ("ours float32", "ours float32 fused"):
            print("%s / %s: batch-1 p50 latency %.2fx, batch-%d throughput %.2fx" % (
                side, other, base[side][1]["p50_ms"] / base[other][1]["p50_ms"], args.batch,
                base[side][args.batch]["img_per_s"] / base[other][args.batch]["img_per_s"]))
        print("ours / %s: training %.2fx" % (other, base["ours float32"]["train_img_per_s"]
                                             / base[other]["train_img_per_s"]))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "pytorch_compare.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "flags": flags,
                            "args": vars(args), "ours": ours, "pytorch": theirs}, default=str) + "\n")


if __name__ == "__main__":
    main()
