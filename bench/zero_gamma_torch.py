#!/usr/bin/env python
"""Zero-gamma in a second implementation: the paper's baseline on Fashion-MNIST trained in plain
PyTorch, with and without the residual branches' last BN gammas started at zero, to see whether
the 3-4 point cost measured with our MXNet trainer (bench/zero_gamma.py) is the method's or ours.

The same recipe as bench/zero_gamma.py's first two rows: GluonCV's cifar_resnet20_v1 layers
(bench/torch_models.py), He-normal initialisation (fan in, as our 'msra'), SGD with Nesterov
momentum 0.9, lr 0.1, batch 128 (last partial batch kept), lr /10 at 1/4, 1/2 and 3/4 of training,
weight decay 5e-4 on every parameter, pad-2 crop + flip, the seed's 10,000-image training subset
(the one our runs used, taken by gluon_tricks), all 10,000 test images. PyTorch runs in its own venv
(python -m venv ~/torchvenv && ~/torchvenv/bin/pip install torch==2.13.0 numpy); each finished run
is appended to bench/ablation/zero_gamma/torch_runs.jsonl and reused. Prints both implementations
side by side: top-1, final training loss and mean |gamma| of the zeroed BNs at the end.

    python bench/zero_gamma_torch.py --seeds 0,1,2
"""
import argparse
import json
import os
import tempfile
import time

import torch_venv

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "ablation", "zero_gamma")
ROWS = {"baseline": False, "zero gamma": True}


# ----------------------------------------------------------------------------- PyTorch side (its venv)

def train(data, zero_gamma, seed, epochs, batch=128, lr=0.1, wd=5e-4, momentum=0.9, steps=(0.25, 0.5, 0.75)):
    import numpy as np
    import torch
    from torch import nn
    from torch_models import Basic, resnet

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count()))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = resnet("resnet20", 10, 1)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    last_bns = [m.last_bn for m in net.modules() if isinstance(m, Basic)]
    if zero_gamma:
        for bn in last_bns:
            nn.init.zeros_(bn.weight)
    net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr, momentum=momentum, nesterov=True, weight_decay=wd)
    mean, std = float(data["mean"]), float(data["std"])
    images = np.pad(data["x_train"], ((0, 0), (2, 2), (2, 2)))  # pad-2 with black, as our loader
    labels = torch.as_tensor(data["y_train"].astype(np.int64))
    n = len(images)
    per_epoch = -(-n // batch)
    milestones = [int(f * epochs * per_epoch) for f in steps]
    test_x = torch.as_tensor((data["x_test"].astype(np.float32) - mean) / std)[:, None]
    test_y = torch.as_tensor(data["y_test"].astype(np.int64))

    def gamma():
        return float(torch.cat([bn.weight.detach().abs() for bn in last_bns]).mean())

    history, step = [], 0
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(n)
        losses = []
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            dy, dx = rng.integers(0, 5, len(idx)), rng.integers(0, 5, len(idx))
            crops = np.stack([images[i, a:a + 28, b:b + 28] for i, a, b in zip(idx, dy, dx)])
            flip = rng.random(len(idx)) < 0.5
            crops[flip] = crops[flip, :, ::-1]
            x = torch.as_tensor((crops.astype(np.float32) - mean) / std)[:, None].contiguous(
                memory_format=torch.channels_last)
            for group in opt.param_groups:
                group["lr"] = lr * 0.1 ** sum(step >= m for m in milestones)
            loss = nn.functional.cross_entropy(net(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
        net.eval()
        correct = 0
        with torch.inference_mode():
            for start in range(0, len(test_x), 500):
                out = net(test_x[start:start + 500].contiguous(memory_format=torch.channels_last))
                correct += int((out.argmax(1) == test_y[start:start + 500]).sum())
        history.append({"epoch": epoch, "test_acc": correct / len(test_x), "train_loss": float(np.mean(losses)),
                        "zeroed_gamma": gamma()})
    return history


def torch_side(args):
    import numpy as np
    data = np.load(args.data)
    tic = time.perf_counter()
    history = train(data, ROWS[args.row], args.seed, args.epochs)
    print(json.dumps({"history": history, "seconds": time.perf_counter() - tic}))


# ----------------------------------------------------------------------------- our side

def subset_file(folder, seed, samples):
    """The seed's training subset and the test set as our runs see them, in an .npz."""
    import numpy as np
    from gluon_tricks.data import DATASETS
    info = DATASETS["fashion-mnist"]
    train, test = info.load(None)
    train = train.subset(samples, seed=seed)
    path = os.path.join(folder, "seed%d.npz" % seed)
    np.savez(path, x_train=train.images.reshape(-1, 28, 28), y_train=train.labels,
             x_test=test.images.reshape(-1, 28, 28), y_test=test.labels, mean=info.mean[0], std=info.std[0])
    return path


def read_jsonl(path):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ours(row, seed, epochs, samples):
    """Our MXNet run of the same row and seed (bench/zero_gamma.py's record and trace), or None."""
    for r in read_jsonl(os.path.join(REPORT, "runs.jsonl")):
        recipe = r["recipe"]
        if r["row"] == row and r["seed"] == seed and recipe["epochs"] == epochs and recipe["train_samples"] == samples:
            trace = read_jsonl(os.path.join(REPORT, "traces", "%s-seed%d.jsonl" % (row.replace(" ", "_"), seed)))
            return {"test_acc": r["final_test_acc"], "train_loss": r["final_train_loss"],
                    "zeroed_gamma": trace[-1]["zeroed_gamma"] if trace else None}
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--train-samples", type=int, default=10000)
    torch_venv.add_arguments(p)
    p.add_argument("--row", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_side:
        return torch_side(args)
    torch_venv.check(args.torch_python)
    import gluon_tricks  # noqa: F401  (OMP_NUM_THREADS, shared with the PyTorch side)
    from gluon_tricks.machine import machine_info
    seeds = [int(s) for s in args.seeds.split(",")]
    record = os.path.join(REPORT, "torch_runs.jsonl")
    done = {(r["row"], r["seed"]): r for r in read_jsonl(record)
            if r["epochs"] == args.epochs and r["train_samples"] == args.train_samples}
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            data = None
            for row in ROWS:
                if (row, seed) in done:
                    continue
                data = data or subset_file(folder, seed, args.train_samples)
                print("[%s] seed %d: training in PyTorch" % (row, seed), flush=True)
                result = torch_venv.run_side(args.torch_python, __file__, ["--row", row, "--seed", str(seed),
                                                                           "--epochs", str(args.epochs), "--data", data])
                entry = {"row": row, "seed": seed, "epochs": args.epochs, "train_samples": args.train_samples,
                         "time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine_info(), **result}
                with open(record, "a") as f:
                    f.write(json.dumps(entry) + "\n")
                done[(row, seed)] = entry
    print("| row | seed | top-1 PyTorch | top-1 ours | train loss PyTorch | ours | zeroed \\|gamma\\| PyTorch | ours |")
    print("|---|---|---|---|---|---|---|---|")
    for row in ROWS:
        for seed in seeds:
            theirs, mine = done[(row, seed)]["history"][-1], ours(row, seed, args.epochs, args.train_samples) or {}
            cells = [theirs["test_acc"] * 100, mine.get("test_acc", float("nan")) * 100, theirs["train_loss"],
                     mine.get("train_loss", float("nan")), theirs["zeroed_gamma"],
                     mine.get("zeroed_gamma") or float("nan")]
            print("| %s | %d | %.2f | %.2f | %.3f | %.3f | %.3f | %.3f |" % (row, seed, *cells))


if __name__ == "__main__":
    main()
