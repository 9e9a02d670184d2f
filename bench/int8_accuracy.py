#!/usr/bin/env python
"""Top-1 of each published Fashion-MNIST model in float32 and as an int8 copy calibrated here: the
record behind the int8 accuracies the results pages state.

Each model runs the user's command, ``scripts/evaluate.py --model NAME --use-pretrained --dataset
fashion-mnist --int8`` (all 10,000 test images, no test-time augmentation; 512 calibration images
drawn with seed 0, naive min/max), in its own process. Prints the CPU and its flags and a table of
the changes; appends one record per run to bench/results/int8_accuracy.jsonl. oneDNN picks its
int8 kernels by CPU (AVX2, VNNI, AMX), so the record names the CPU; the speeds are
bench/inference_precision.py's.

    python bench/int8_accuracy.py                                          # every published Fashion-MNIST model
    python bench/int8_accuracy.py --models fashion_mnist_resnet20_v1b
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EVALUATE = os.path.join(os.path.dirname(HERE), "scripts", "evaluate.py")


def evaluate_int8(model, folder):
    """float32 and int8 reports of one published model, from evaluate.py's --json."""
    out = os.path.join(folder, model + ".json")
    cmd = [sys.executable, EVALUATE, "--model", model, "--use-pretrained", "--dataset", "fashion-mnist", "--int8",
           "--json", out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="comma-separated published names (default: every fashion_mnist_* model)")
    args = p.parse_args()
    import gluon_tricks  # noqa: F401
    from gluon_tricks.machine import cpu_flags, machine_info
    from gluon_tricks.zoo import published_names
    models = args.models.split(",") if args.models else [n for n in published_names() if n.startswith("fashion_mnist_")]
    machine = machine_info()
    flags = " ".join(sorted(cpu_flags() & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"}))
    print("machine: %s, %s cores, flags %s, MXNet %s" % (machine["cpu"], machine["cores"], flags, machine["mxnet"]))
    print("\n| model | float32 top-1 | int8 top-1 | change (points) |")
    print("|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for model in models:
            report = evaluate_int8(model, folder)
            row = {"model": model, "float32_top1": report["top1"], "int8_top1": report["int8"]["top1"],
                   "calibration": report["int8"]["calibration"], "images": report["images"]}
            rows.append(row)
            print("| %s | %.2f%% | %.2f%% | %+.2f |" % (model, 100 * row["float32_top1"], 100 * row["int8_top1"],
                                                      100 * (row["int8_top1"] - row["float32_top1"])), flush=True)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "int8_accuracy.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "flags": flags,
                            "command": "python scripts/evaluate.py --model NAME --use-pretrained --dataset "
                                       "fashion-mnist --int8", "rows": rows}, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
