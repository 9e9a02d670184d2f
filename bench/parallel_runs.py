#!/usr/bin/env python
"""Many small runs (an ablation grid): one after another on all cores, or ``--jobs`` at once on
cores / jobs threads each? Trains the same runs both ways through ``ablate.run_grid`` (real data,
the real loop, worker start-up included), alternating the two ways ``--repeats`` times, and prints
the wall times and their ratio with the machine. Appends to bench/results/parallel_runs.jsonl.

    python bench/parallel_runs.py                      # 2 runs of ResNet-20, 2 epochs on 5,000 images
    python bench/parallel_runs.py --jobs 2 --runs 4 --epochs 1
"""
import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gluon_tricks import ablate  # noqa: E402
from gluon_tricks.machine import machine_info  # noqa: E402
from gluon_tricks.train import Recipe  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(rows, seeds, jobs):
    out = tempfile.mkdtemp(prefix="parallel_runs_")
    try:
        tic = time.time()
        ablate.run_grid(rows, seeds, out, echo=lambda s: None, jobs=jobs)
        return time.time() - tic
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="cifar_resnet20_v1b")
    p.add_argument("--runs", type=int, default=2, help="runs (seeds) per timing")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-samples", type=int, default=5000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2, help="alternations of the two ways")
    args = p.parse_args()
    machine = machine_info()
    print("machine: %(cpu)s, %(cores)s cores, OMP_NUM_THREADS=%(omp_num_threads)s, MXNet %(mxnet)s" % machine)
    recipe = Recipe(model=args.model, dataset="fashion-mnist", epochs=args.epochs, train_samples=args.train_samples,
                    test_samples=1000, batch_size=args.batch_size, warmup_epochs=0.0)
    rows, seeds = [("run", dataclasses.replace(recipe))], list(range(args.runs))
    images = args.runs * args.epochs * args.train_samples
    times = {1: [], args.jobs: []}
    for _ in range(args.repeats):
        for jobs in (1, args.jobs):
            times[jobs].append(timed(rows, seeds, jobs))
            print("jobs %d: %.1f s (%.0f training img/s over the whole grid)" % (jobs, times[jobs][-1],
                                                                                 images / times[jobs][-1]))
    best = {jobs: min(t) for jobs, t in times.items()}
    print("%s, %d runs x %d epochs x %d images, batch %d" % (args.model, args.runs, args.epochs, args.train_samples,
                                                           args.batch_size))
    print("| way | wall time, best of %d (s) | speed-up |" % args.repeats)
    print("|---|---|---|")
    print("| one after another, all cores | %.1f | 1.00x |" % best[1])
    print("| %d at once, 1/%d of the threads each | %.1f | %.2fx |" % (args.jobs, args.jobs, best[args.jobs],
                                                                  best[1] / best[args.jobs]))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "parallel_runs.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "args": vars(args),
                            "times_s": {str(k): v for k, v in times.items()}}) + "\n")


if __name__ == "__main__":
    main()
