"""``fit(recipe)``: data -> network -> NAG with warmup/cosine -> metrics, log, checkpoint, plot."""
import math
import os
import platform
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from .. import data as datasets
from ..models import get_model
from .checkpoint import save_checkpoint
from .config import Recipe
from .losses import SoftTargetLoss, smooth_targets
from .report import JsonLog, plot_curves
from .schedule import Schedule


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


def build_data(recipe):
    """(train loader, test loader, class names) for an in-memory small-image data set."""
    if recipe.dataset not in datasets.DATASETS:
        raise ValueError("unknown dataset %r; choose from %s" % (recipe.dataset, sorted(datasets.DATASETS)))
    train, test = datasets.DATASETS[recipe.dataset](recipe.data_dir)
    train = train.subset(recipe.train_samples, seed=recipe.seed)
    test = test.subset(recipe.test_samples)
    mean, std = datasets.STATS[recipe.dataset]
    train_loader = datasets.ArrayLoader(train, recipe.batch_size, mean, std, train=True,
                                        pad=recipe.pad_crop, flip=recipe.flip, seed=recipe.seed)
    test_loader = datasets.ArrayLoader(test, recipe.batch_size, mean, std)
    return train_loader, test_loader, train.classes


INITIALIZERS = {
    "msra": lambda: mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),  # He et al. 2015
    "xavier": lambda: mx.init.Xavier(),
}


def build_net(recipe, classes, sample, ctx):
    net = get_model(recipe.model, classes=classes, **recipe.model_kwargs)
    net.initialize(INITIALIZERS[recipe.init](), ctx=ctx)
    net(sample.as_in_context(ctx))  # settle deferred shapes before the trainer sees the parameters
    if recipe.hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    return net


def build_trainer(recipe, net):
    if recipe.no_wd:  # Bag of Tricks 3.1: no bias decay (BN gamma/beta and biases)
        for param in net.collect_params(".*gamma|.*beta|.*bias").values():
            param.wd_mult = 0.0
    opt = {"learning_rate": recipe.effective_lr(), "wd": recipe.wd}
    if recipe.optimizer in ("sgd", "nag"):
        opt["momentum"] = recipe.momentum
    return gluon.Trainer(net.collect_params(), recipe.optimizer, opt)


def evaluate(net, loader, ctx):
    """(top-1 accuracy, mean cross-entropy) over a loader; one host sync at the end."""
    ce = gluon.loss.SoftmaxCrossEntropyLoss()
    correct = mx.nd.zeros((1,), ctx=ctx)
    loss_sum = mx.nd.zeros((1,), ctx=ctx)
    n = 0
    for x, y in loader.epoch():
        x, y = x.as_in_context(ctx), y.as_in_context(ctx)
        out = net(x)
        correct += (out.argmax(axis=1) == y).sum()
        loss_sum += ce(out, y).sum()
        n += len(y)
    return float(correct.asscalar()) / n, float(loss_sum.asscalar()) / n


def machine_info():
    flags = set()
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "mxnet": mx.__version__,
            "cpu_bf16": sorted(flags & {"avx512_bf16", "amx_bf16"}), "avx512f": "avx512f" in flags}


class _Meter:
    """Loss/accuracy sums kept on the device; read (a host sync) only when reported."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.reset()

    def reset(self):
        self.loss = mx.nd.zeros((1,), ctx=self.ctx)
        self.correct = mx.nd.zeros((1,), ctx=self.ctx)
        self.count = 0

    def add(self, loss, out, labels):
        self.loss += loss.sum()
        self.correct += (out.argmax(axis=1) == labels).sum()
        self.count += len(labels)

    def read(self):
        n = max(self.count, 1)
        return float(self.loss.asscalar()) / n, float(self.correct.asscalar()) / n


def fit(recipe, progress=True, ctx=None):
    """Train ``recipe`` to the end; returns a summary dict. Everything it writes goes to ``recipe.save_dir``."""
    from tqdm import tqdm

    recipe = recipe.validate() if isinstance(recipe, Recipe) else Recipe.from_dict(recipe).validate()
    ctx = ctx or mx.cpu()
    mx.random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    os.makedirs(recipe.save_dir, exist_ok=True)
    recipe.save(os.path.join(recipe.save_dir, "recipe.json"))
    log = JsonLog(os.path.join(recipe.save_dir, "log.jsonl"))
    plot_path = os.path.join(recipe.save_dir, "curves.png")

    train_loader, test_loader, class_names = build_data(recipe)
    sample, _ = next(train_loader.epoch(0))
    net = build_net(recipe, len(class_names), sample[:1], ctx)
    trainer = build_trainer(recipe, net)
    schedule = Schedule.from_recipe(recipe, len(train_loader))
    loss_fn = SoftTargetLoss()
    loss_fn.hybridize(static_alloc=True)
    classes = len(class_names)
    log.write({"kind": "start", "time": time.time(), "recipe": recipe.to_dict(), "machine": machine_info(),
               "iters_per_epoch": len(train_loader)})

    interval, epoch_meter = _Meter(ctx), _Meter(ctx)
    it = 0
    train_time = 0.0
    best = (-1.0, -1)
    summary = {}
    for epoch in range(recipe.epochs):
        epoch_meter.reset()
        tic = interval_tic = time.time()
        bar = tqdm(total=len(train_loader), desc="epoch %d/%d" % (epoch + 1, recipe.epochs),
                   disable=not progress, leave=False, dynamic_ncols=True)
        previous = None
        for x, y in train_loader.epoch(epoch):
            lr = schedule(it)
            trainer.set_learning_rate(lr)
            x, y = x.as_in_context(ctx), y.as_in_context(ctx)
            target = smooth_targets(y, classes, recipe.label_smoothing)
            with autograd.record():
                out = net(x)
                loss = loss_fn(out, target)
            loss.backward()
            trainer.step(len(y))
            interval.add(loss, out, y)
            epoch_meter.add(loss, out, y)
            if previous is not None:  # keep at most two batches in flight: bounded memory, no stall
                previous.wait_to_read()
            previous = loss
            it += 1
            bar.update(1)
            if it % recipe.log_interval == 0:
                mean_loss, acc = interval.read()
                if not math.isfinite(mean_loss):
                    raise TrainingDiverged("training loss is %s at iteration %d (epoch %d, lr %.4g); "
                                           "lower --lr or raise --warmup-epochs" % (mean_loss, it, epoch + 1, lr))
                now = time.time()
                speed = interval.count / (now - interval_tic)
                log.write({"kind": "interval", "epoch": epoch, "iter": it, "epoch_float": it / len(train_loader),
                           "loss": mean_loss, "acc": acc, "lr": lr, "img_per_s": speed})
                bar.set_postfix(loss="%.3f" % mean_loss, acc="%.3f" % acc, lr="%.3g" % lr, ips="%.0f" % speed)
                interval.reset()
                interval_tic = now
        train_loss, train_acc = epoch_meter.read()  # waits for the epoch's last batch
        bar.close()
        epoch_time = time.time() - tic
        train_time += epoch_time
        if not math.isfinite(train_loss):
            raise TrainingDiverged("training loss is %s after epoch %d; lower --lr" % (train_loss, epoch + 1))
        test_acc, test_loss = evaluate(net, test_loader, ctx)
        record = {"kind": "epoch", "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                  "test_loss": test_loss, "test_acc": test_acc, "epoch_time": epoch_time,
                  "train_time": train_time, "img_per_s": epoch_meter.count / epoch_time, "lr": lr}
        log.write(record)
        meta = {"recipe": recipe.to_dict(), "epoch": epoch, "iteration": it, "metrics": record}
        save_checkpoint(recipe.save_dir, "last", net, trainer, meta)
        if test_acc > best[0]:
            best = (test_acc, epoch)
            save_checkpoint(recipe.save_dir, "best", net, None, meta)
        plot_curves(log.path, plot_path)
        line = ("epoch %d/%d  train loss %.4f acc %.4f  test loss %.4f acc %.4f  %.1f s (%.0f img/s)"
                % (epoch + 1, recipe.epochs, train_loss, train_acc, test_loss, test_acc, epoch_time,
                   record["img_per_s"]))
        tqdm.write(line) if progress else print(line, flush=True)
        summary = {"final_test_acc": test_acc, "best_test_acc": best[0], "best_epoch": best[1] + 1,
                   "epochs": epoch + 1, "train_time": train_time, "save_dir": recipe.save_dir,
                   "log": log.path, "plot": plot_path, "checkpoint": os.path.join(recipe.save_dir, "last.params")}
    log.write(dict(summary, kind="end", time=time.time()))
    return summary
