#!/usr/bin/env python
"""Wall time from process start to given Fashion-MNIST test accuracies: our fast recipe against
GluonCV's CIFAR recipe, one after the other on this machine.

Ours is the user's command, ``scripts/train_cifar.py --recipe RECIPE --seed S``, once per seed;
GluonCV's is its own ``cifar_resnet20_v1`` trained the way its ``train_cifar10.py`` trains
(``gluon.Trainer``, NAG lr 0.1, wd 1e-4, batch 128, Xavier init, a ``gluon.data.DataLoader`` with
GluonCV's RandomCrop pad 2 + flip, evaluation after every epoch) with cosine decay over 15 epochs.
Each runs in its own process; "time to X%" is the wall time from that process's start to the
end of the first evaluation at or above X (start-up, data loading and evaluations count). Prints
the CPU and its flags, each run's milestones, the median over seeds, the ratio of times to 93%,
and, as airbench states a result, the mean final accuracy over the seeds with its spread, the share
of seeds at or above 94% and the median process wall time; appends everything to
bench/results/time_to_accuracy.jsonl.

    python bench/time_to_accuracy.py                              # model_zoo/fashion_mnist_fastest.yaml x3, then GluonCV
    python bench/time_to_accuracy.py --seeds 0 --no-gluoncv
    python bench/time_to_accuracy.py --seeds 0-9 --no-gluoncv                     # ten seeds: mean and spread
    python bench/time_to_accuracy.py --recipe model_zoo/fashion_mnist_resnet20_v1b.yaml --seeds 0
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from gluon_tricks.errors import UserError  # noqa: E402
from gluon_tricks.train.config import Recipe  # noqa: E402
from gluon_tricks.train.report import seed_summary, time_to_accuracy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_RECIPE = os.path.join(ROOT, "model_zoo", "fashion_mnist_fastest.yaml")
TARGETS = (0.92, 0.93, 0.94)


def read_epochs(log):
    with open(log) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if r.get("kind") == "epoch"]


def run_ours(recipe, seed, save_dir):
    """Our script on the recipe, in its own process; (epoch records, process wall seconds, the dtype it chose)."""
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "train_cifar.py"), "--recipe", recipe, "--seed", str(seed),
           "--save-dir", save_dir, "--no-progress"]
    tic = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - tic
    with open(os.path.join(save_dir, "recipe.json")) as f:
        dtype = json.load(f)["dtype"]  # what ``auto`` became on this machine
    return read_epochs(os.path.join(save_dir, "log.jsonl")), wall, dtype


def run_gluoncv(save_dir, epochs):
    cmd = [sys.executable, os.path.abspath(__file__), "--gluoncv-run", save_dir, "--gluoncv-epochs", str(epochs)]
    tic = time.time()
    subprocess.run(cmd, check=True)
    return read_epochs(os.path.join(save_dir, "log.jsonl")), time.time() - tic


def gluoncv_training(save_dir, epochs, batch=128, lr=0.1, seed=0):
    """GluonCV's train_cifar10.py loop on Fashion-MNIST, writing one record per epoch."""
    import gluon_tricks  # noqa: F401  (OMP_NUM_THREADS)
    import gluoncv
    import mxnet as mx
    from gluoncv.data import transforms as gcv_transforms
    from mxnet import autograd, gluon
    from mxnet.gluon.data.vision import transforms

    from gluon_tricks.data import load_fashion_mnist
    from gluon_tricks.machine import process_started
    mx.random.seed(seed)
    ctx = [mx.cpu()]
    train, test = load_fashion_mnist()
    normalize = transforms.Normalize(72.94 / 255, 90.02 / 255)
    transform_train = transforms.Compose([gcv_transforms.RandomCrop(28, pad=2), transforms.RandomFlipLeftRight(),
                                          transforms.ToTensor(), normalize])
    transform_test = transforms.Compose([transforms.ToTensor(), normalize])
    train_data = gluon.data.DataLoader(
        gluon.data.ArrayDataset(mx.nd.array(train.images, dtype="uint8"), train.labels).transform_first(
            transform_train), batch_size=batch, shuffle=True, last_batch="discard", num_workers=2)
    test_data = gluon.data.DataLoader(
        gluon.data.ArrayDataset(mx.nd.array(test.images, dtype="uint8"), test.labels).transform_first(
            transform_test), batch_size=batch, shuffle=False, num_workers=2)
    net = gluoncv.model_zoo.get_model("cifar_resnet20_v1", classes=10)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    steps = epochs * (len(train.labels) // batch)
    trainer = gluon.Trainer(net.collect_params(), "nag", {
        "learning_rate": lr, "wd": 1e-4, "momentum": 0.9,
        "lr_scheduler": mx.lr_scheduler.CosineScheduler(steps, base_lr=lr, final_lr=0)})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    os.makedirs(save_dir, exist_ok=True)
    with open(os.path.join(save_dir, "log.jsonl"), "w") as log:
        for epoch in range(epochs):
            tic = time.time()
            for x, y in train_data:  # as GluonCV's loop: split_and_load moves the batch off shared memory
                xs, ys = gluon.utils.split_and_load(x, ctx), gluon.utils.split_and_load(y, ctx)
                with autograd.record():
                    losses = [loss_fn(net(xi), yi) for xi, yi in zip(xs, ys)]
                autograd.backward(losses)
                trainer.step(batch)
            mx.nd.waitall()
            epoch_time = time.time() - tic
            metric = mx.metric.Accuracy()
            for x, y in test_data:
                xs, ys = gluon.utils.split_and_load(x, ctx), gluon.utils.split_and_load(y, ctx)
                metric.update(ys, [net(xi) for xi in xs])
            record = {"kind": "epoch", "epoch": epoch, "test_acc": metric.get()[1], "epoch_time": epoch_time,
                      "img_per_s": steps / epochs * batch / epoch_time, "wall_time": time.time() - process_started()}
            log.write(json.dumps(record) + "\n")
            log.flush()
            print("GluonCV epoch %d: test %.4f, %.0f img/s, %.0f s since start" % (
                epoch + 1, record["test_acc"], record["img_per_s"], record["wall_time"]), flush=True)


def recipe_work(recipe):
    """The recipe's work in TFLOP, from its network and schedule (``training_flop``): training, and
    its evaluations (forward passes over the test set, each TTA view counted)."""
    from gluon_tricks.data.in_memory import stage_sizes
    from gluon_tricks.data.loaders import small_sets
    from gluon_tricks.models import construct
    from gluon_tricks.models.complexity import complexity, training_flop
    train, test = small_sets(recipe)
    _, size, _, channels = train.images.shape  # NHWC
    net = construct(recipe.model, classes=len(train.classes), **recipe.model_kwargs)
    sizes = stage_sizes(recipe.train_sizes, recipe.epochs) or [size] * recipe.epochs
    per_epoch = len(train) // recipe.batch_size * recipe.batch_size  # training drops the last partial batch
    views = (2 if recipe.tta_flip else 1) * (5 if recipe.tta_shift else 1)
    evaluations = recipe.epochs - recipe.eval_from + 1
    evaluation = 2 * complexity(net, (channels, size, size))[1] * len(test) * views * evaluations
    return {"train_tflop": training_flop(net, channels, sizes, per_epoch) / 1e12, "eval_tflop": evaluation / 1e12,
            "sizes": sizes, "images_per_epoch": per_epoch}


def parse_seeds(text):
    """'0,1,2' or '0-9' (inclusive) or a mix: '0-4,7'."""
    seeds = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        seeds += list(range(int(first), int(last) + 1)) if last else [int(first)]
    return seeds


def fmt(seconds):
    return "%.1f min" % (seconds / 60) if seconds is not None else "not reached"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=DEFAULT_RECIPE, help="our recipe file (default: %(default)s)")
    p.add_argument("--seeds", default="0,1,2", help="our recipe's seeds: comma-separated, or a range like 0-9")
    p.add_argument("--no-gluoncv", action="store_true", help="skip GluonCV's recipe (58 min on a 2-core Xeon)")
    p.add_argument("--gluoncv-epochs", type=int, default=15)
    p.add_argument("--out", help="keep the runs here (default: a temporary directory)")
    p.add_argument("--work-only", action="store_true", help="print the recipe's training and evaluation TFLOP and stop")
    p.add_argument("--gluoncv-run", metavar="DIR", help=argparse.SUPPRESS)  # the child process of GluonCV's side
    args = p.parse_args()
    if args.gluoncv_run:
        return gluoncv_training(args.gluoncv_run, args.gluoncv_epochs)
    import gluon_tricks  # noqa: F401
    from gluon_tricks.machine import cpu_flags, machine_info
    try:
        recipe = Recipe.load(args.recipe)
        work = recipe_work(recipe)
    except UserError as err:
        sys.exit("time_to_accuracy.py: error: %s" % err)
    fields = recipe.to_dict()  # the record keeps what ran, not only a path
    print("work: %.1f TFLOP of training (epochs at %s px, %d images each), %.2f TFLOP of evaluation" % (
        work["train_tflop"], " ".join(map(str, work["sizes"])), work["images_per_epoch"], work["eval_tflop"]))
    if args.work_only:
        return
    out = args.out or tempfile.mkdtemp(prefix="tta-")
    machine = machine_info()
    flags = " ".join(sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni"}))
    print("machine: %s, %s cores, OMP_NUM_THREADS=%s, flags %s%s, MXNet %s" % (
        machine["cpu"], machine["cores"], machine["omp_num_threads"], flags,
        " (AMX tiles on)" if machine["amx"] else "", machine["mxnet"]))
    runs = []
    for seed in parse_seeds(args.seeds):
        epochs, wall, dtype = run_ours(args.recipe, seed, os.path.join(out, "ours-seed%d" % seed))
        runs.append({"side": "ours", "seed": seed, "epochs": epochs, "wall": wall, "dtype": dtype})
        print("ours seed %d: %s; final %.2f%% after %d epochs in %s, %s in all" % (
            seed, ", ".join("%.0f%% %s" % (100 * t, fmt(s)) for t, s in time_to_accuracy(epochs, TARGETS).items()),
            100 * epochs[-1]["test_acc"], len(epochs), dtype, fmt(wall)), flush=True)
    if not args.no_gluoncv:
        epochs, wall = run_gluoncv(os.path.join(out, "gluoncv"), args.gluoncv_epochs)
        runs.append({"side": "gluoncv", "seed": 0, "epochs": epochs, "wall": wall, "dtype": "float32"})
    print("\n| run | time to 92% | 93% | 94% | final accuracy | epochs | whole run |")
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        hits = time_to_accuracy(run["epochs"], TARGETS)
        print("| %s seed %d | %s | %s | %s | %.2f%% | %d | %s |" % (
            run["side"], run["seed"], *(fmt(hits[t]) for t in TARGETS), 100 * run["epochs"][-1]["test_acc"],
            len(run["epochs"]), fmt(run["wall"])))
    ours = [time_to_accuracy(r["epochs"], TARGETS) for r in runs if r["side"] == "ours"]
    summary = {}
    for t in TARGETS:
        times = [h[t] for h in ours]
        summary[t] = statistics.median(times) if all(s is not None for s in times) else None
    print("ours, median over %d seed(s): %s" % (len(ours), ", ".join("%.0f%% %s" % (100 * t, fmt(s))
                                                                   for t, s in summary.items())))
    finals = [r["epochs"][-1]["test_acc"] for r in runs if r["side"] == "ours"]
    over_seeds = seed_summary(finals, [r["wall"] for r in runs if r["side"] == "ours"], TARGETS[-1])
    one_view = [r["epochs"][-1].get("test_acc_one_view") for r in runs if r["side"] == "ours"]
    if all(a is not None for a in one_view):  # the recipe evaluates with TTA: its accuracy without it too
        over_seeds["mean_one_view"] = statistics.mean(one_view)
    o = over_seeds
    print("ours over %d seed(s): mean %.2f%% (std %.2f, %.2f-%.2f)%s, %.0f%% of seeds at or above %.0f%%, median "
          "process wall time %s for %.1f TFLOP of training" % (
              o["seeds"], 100 * o["mean"], 100 * o["std"], 100 * o["min"], 100 * o["max"],
              "; without test-time augmentation %.2f%%" % (100 * o["mean_one_view"]) if "mean_one_view" in o else "",
              100 * o["share_at_target"], 100 * TARGETS[-1], fmt(o["median_wall"]), work["train_tflop"]))
    theirs = [time_to_accuracy(r["epochs"], TARGETS) for r in runs if r["side"] == "gluoncv"]
    if theirs and summary[0.93] and theirs[0][0.93]:
        print("time to 93%%: GluonCV %s / ours %s = %.1fx" % (fmt(theirs[0][0.93]), fmt(summary[0.93]),
                                                            theirs[0][0.93] / summary[0.93]))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "time_to_accuracy.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine,
                            "recipe": {"file": os.path.relpath(args.recipe, ROOT), "fields": fields},
                            "runs": [dict(r, milestones={str(k): v for k, v in
                                                         time_to_accuracy(r["epochs"], TARGETS).items()}) for r in runs],
                            "median": {str(k): v for k, v in summary.items()}, "over_seeds": over_seeds,
                            "work": work},
                           sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
