"""``fit(recipe)``: data -> network -> optimizer step -> hooks (log, EMA, checkpoints, ...).

Each part is built elsewhere: the data by :mod:`gluon_tricks.data`, the network by
:mod:`gluon_tricks.zoo`, precision and reduction by their policies, the step by
:class:`~gluon_tricks.train.step.Stepper`; what happens around the steps is in
:mod:`~gluon_tricks.train.hooks`. ``fit`` only sequences them."""
import dataclasses
import math
import os
import time

import mxnet as mx
import numpy as np

from .. import data
from ..machine import process_started
from ..models.ensemble import Ensemble, scoped_members
from ..models.whitening import whiten_first_conv
from ..notice import notice
from ..zoo import ready_network, lookup
from . import parallel
from .config import Recipe
from .evaluation import accuracy_report, evaluate
from .checkpoint import lock_run_dir, stop_when_disk_full
from .hooks import Checkpointer, TrainingDiverged, recipe_hooks
from .parallel import Reduction
from .precision import Precision, bf16_advice, check_dtype, choose_dtype
from .schedule import Schedule
from .step import Meter, Stepper, build_loss, build_trainer, check_optimizer
from ..errors import BadInput, InputNotFound


_STARTED = [0]  # training runs this process has started


class TrainingRun:
    """Everything one training run holds; the hooks read it and ``state`` is what checkpoints keep.
    ``earlier_runs`` counts the runs this process started before it: a log's ``wall_time`` (from the
    process's start) is this run's own time to accuracy only when it is 0."""

    def __init__(self, recipe, ctxs, reduction, loaders):
        self.earlier_runs, _STARTED[0] = _STARTED[0], _STARTED[0] + 1
        self.recipe, self.ctxs, self.reduction = recipe, ctxs, reduction
        self.train_loader, self.test_loader, self.class_names = loaders
        self.chief = reduction.rank == 0
        self.state = {"epoch": 0, "batch": 0, "iteration": 0, "train_time": 0.0, "best_acc": -1.0, "best_epoch": -1}
        self.position = (0, 0, 0)  # (epoch, next micro-batch, micro-batches per epoch)
        self.hooks, self.resumed, self.lr, self.data_time = [], False, 0.0, 0.0
        self.tic, self.epoch_time = time.time(), 0.0

    def hook_files(self):
        return {name: io for hook in self.hooks for name, io in hook.files().items()}

    def bank_time(self):
        """Count the time since the last call as training time (before a checkpoint records it)."""
        now = time.time()
        self.epoch_time += now - self.tic
        self.state["train_time"] += now - self.tic
        self.tic = now

    def evaluate(self):
        """(top-1, mean cross-entropy) of the network as it is now, with the recipe's test-time views."""
        return evaluate(self.net, self.test_loader, self.ctxs, self.recipe.tta_flip, self.recipe.tta_shift)

    def test_record(self):
        """An epoch record's test fields: top-1 and loss with the recipe's test-time views, and with
        several views also the top-1 of the image alone (``test_acc_one_view``)."""
        report = accuracy_report(self.net, self.test_loader, self.ctxs, self.recipe.tta_flip,
                                 tta_shift=self.recipe.tta_shift)
        record = {"test_acc": report["top1"], "test_loss": report["loss"]}
        if "top1_one_view" in report:
            record["test_acc_one_view"] = report["top1_one_view"]
        return record

    def call(self, point, *args):
        for hook in self.hooks:
            getattr(hook, point)(self, *args)


def build_network(run, precision):
    """The trained network and, for distillation, its teacher (on this worker's devices)."""
    recipe, classes = run.recipe, len(run.class_names)
    sample = mx.nd.zeros((1,) + tuple(run.train_loader.data_shape))
    net = ready_network(recipe.model, classes, sample, run.ctxs, recipe.init, recipe.pretrained,
                    **recipe.network_settings())
    if recipe.whiten_images:
        whiten_first_conv(net, run.train_loader.normalized(recipe.whiten_images))
    teacher = None
    if recipe.teacher:
        members = scoped_members(lambda name: ready_network(name, classes, sample, run.ctxs, finetune=False,
                                                       params=recipe.teacher_params or True), recipe.teachers())
        teacher = precision.prepare(members[0] if len(members) == 1 else Ensemble(members), recipe.hybridize)
    return precision.prepare(net, recipe.hybridize), teacher


def resolve_dtype(recipe, ctxs):
    """``dtype: auto`` made concrete (and said in one line), so the saved recipe and a resume use
    what ran; an explicit bfloat16 on a CPU where it measures slower gets a one-line note."""
    if recipe.dtype == "auto":
        dtype, why = choose_dtype(ctxs)
        notice("--dtype auto: %s (%s)" % (dtype, why))
        recipe = dataclasses.replace(recipe, dtype=dtype)
    elif recipe.dtype == "bfloat16":
        check_dtype("bfloat16", ctxs)
        advice = bf16_advice(ctxs)
        if advice:
            notice(advice)
    return unfused_under_bf16(recipe)


def unfused_under_bf16(recipe):
    """MXNet 1.9.1's fused BatchNormReLU under bfloat16 AMP passes back zero gradients in 7 of every
    8 channels of the stem's BN (its convolution and BN then barely train) and steps slower than
    BN + ReLU apart, so a bf16 run trains them apart (the same parameters: weights load either way)."""
    if recipe.dtype != "bfloat16" or not recipe.model_kwargs.get("fused_bn_relu"):
        return recipe
    notice("bfloat16: fused_bn_relu off (under MXNet 1.9.1's bf16 AMP the fused BatchNormReLU loses the stem's "
           "gradients in 7 of 8 channels, and BN + ReLU apart are faster; docs/results/precision.rst)")
    return dataclasses.replace(recipe, model_kwargs=dict(recipe.model_kwargs, fused_bn_relu=False))


def fit(recipe, progress=True, resume=False, contexts=None, start=None, hooks=(), tensorboard=True):
    """Train ``recipe`` to the end; returns a summary dict. Everything it writes goes to ``recipe.save_dir``.

    ``resume=True`` continues from the newest checkpoint in ``save_dir`` (or starts fresh if none).
    ``start={"epoch": N, "params": F, "states": S}`` begins at epoch N from a weights file and
    (optionally) an optimizer-state file written elsewhere (GluonCV's ``--resume-*`` flags).
    ``contexts`` overrides the devices ``recipe.gpus`` names (tests use ``[mx.cpu(0), mx.cpu(1)]``).
    ``hooks`` run after the recipe's own (see :mod:`gluon_tricks.train.hooks`).
    ``tensorboard=False`` writes no TensorBoard event files beside log.jsonl.
    Under a dist_* kvstore or Horovod every worker trains; only worker 0 writes the log, plots and checkpoints,
    and every worker resumes from ``save_dir`` (so it must be shared, or copied to each machine)."""
    recipe = recipe.validate() if isinstance(recipe, Recipe) else Recipe.from_dict(recipe).validate()
    ctxs = list(contexts) if contexts else parallel.contexts(recipe.gpus)
    recipe = resolve_dtype(recipe, ctxs)
    precision = Precision.from_recipe(recipe).check(ctxs)
    parallel.check_kvstore(recipe.kv_store, ctxs)
    check_optimizer(recipe.optimizer, recipe.optimizer_params)
    for name in recipe.teachers():
        lookup(name)  # unknown names fail before any data is read
    precision.activate()
    mx.random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    reduction = Reduction.join(recipe.kv_store)
    loaders = data.build_loaders(recipe, reduction.rank, reduction.workers)  # bad data stops here, nothing written
    lock = lock_run_dir(recipe.save_dir) if reduction.rank == 0 else None  # a second run here stops now
    try:
        with stop_when_disk_full(recipe.save_dir):
            return _train(recipe, ctxs, precision, reduction, loaders, progress, resume, start, hooks, tensorboard)
    finally:
        if lock:
            lock.close()


def _train(recipe, ctxs, precision, reduction, loaders, progress, resume, start, hooks, tensorboard):
    """``fit`` once its checks have passed and this process holds the run directory."""
    run = TrainingRun(recipe, reduction.devices(ctxs), reduction, loaders)
    os.makedirs(recipe.save_dir, exist_ok=True)
    run.net, teacher = build_network(run, precision)
    run.trainer = build_trainer(recipe, run.net, reduction, precision)
    run.stepper = Stepper(recipe, run.net, run.trainer, build_loss(recipe), run.ctxs, len(run.class_names), teacher,
                          precision, reduction)
    run.steps_per_epoch = len(run.train_loader) // recipe.accumulate
    if run.steps_per_epoch < 1:
        raise BadInput("an epoch has %d batches, fewer than accumulate=%d" % (len(run.train_loader), recipe.accumulate))
    schedule = Schedule.from_recipe(recipe, run.steps_per_epoch, reduction.workers)
    run.hooks = recipe_hooks(run, progress, tensorboard) + list(hooks)
    checkpointer = next(h for h in run.hooks if isinstance(h, Checkpointer))
    run.resumed = bool(resume and checkpointer.restore(run))
    if not run.resumed and start:
        _warm_start(start, run)
    run.call("start")
    test_acc = None
    for epoch in range(run.state["epoch"], recipe.epochs):
        record = _train_epoch(run, schedule, epoch)
        if recipe.evaluates(epoch):
            record.update(run.test_record())
            test_acc = record["test_acc"]
        record["wall_time"] = time.time() - process_started()
        run.call("epoch_end", record)
    if test_acc is None:  # resumed a finished run: nothing trained, measure what is there
        test_acc = run.evaluate()[0]
    summary = {"final_test_acc": test_acc, "best_test_acc": run.state["best_acc"],
               "best_epoch": run.state["best_epoch"] + 1, "epochs": recipe.epochs, "train_time": run.state["train_time"],
               "save_dir": recipe.save_dir, "iterations": run.state["iteration"], "rank": reduction.rank,
               "workers": reduction.workers}
    run.call("end", summary)
    run.log.write(dict(summary, kind="end", time=time.time()))
    return summary


def _train_epoch(run, schedule, epoch):
    """One epoch of optimizer steps (from the resumed batch); its training record."""
    recipe, state = run.recipe, run.state
    micro_batches = run.steps_per_epoch * recipe.accumulate  # no partial accumulation spills into the next epoch
    first = state["batch"] if epoch == state["epoch"] else 0
    meter, previous, skipped = Meter(), None, run.train_loader.skipped
    run.call("epoch_start", epoch, first, micro_batches)
    run.tic, run.epoch_time, run.data_time = time.time(), 0.0, 0.0
    batches = run.train_loader.epoch(epoch, start=first)
    for b in range(first, micro_batches):
        t0 = time.time()
        x, y = next(batches)
        run.data_time += time.time() - t0
        run.lr = schedule(state["iteration"])
        run.trainer.set_learning_rate(run.lr)
        result = run.stepper(x, y, epoch, np.random.default_rng((recipe.seed, epoch, b, 2)))
        if result is None:
            continue
        applied, done = result
        for item in done if applied else ():
            meter.add(*item)
        if previous is not None:  # at most two steps in flight: bounded memory, no stall
            previous.wait_to_read()
        previous = done[-1][0][-1]
        state["iteration"] += 1
        run.position = (epoch, b + 1, micro_batches)
        run.call("step", applied, done)
    train_loss, train_acc = meter.read()  # waits for the epoch's last step
    run.bank_time()
    epoch_time = run.epoch_time
    if meter.count and not math.isfinite(train_loss):
        raise TrainingDiverged("training loss is %s after epoch %d; lower --lr" % (train_loss, epoch + 1))
    record = {"kind": "epoch", "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
              "epoch_time": epoch_time, "train_time": state["train_time"],
              "img_per_s": meter.count / max(epoch_time, 1e-9), "lr": run.lr,
              "skipped_images": run.train_loader.skipped - skipped}
    if getattr(run.train_loader, "sizes", None):  # progressive resizing
        record["train_size"] = run.train_loader.sizes[epoch]
    return record


def _warm_start(start, run):
    """GluonCV-style resume: weights (and optimizer state) from files, at a given epoch."""
    if not 0 <= start.get("epoch", 0) < run.recipe.epochs:
        raise BadInput("the start epoch %d is not in [0, epochs=%d)" % (start["epoch"], run.recipe.epochs))
    for key in ("params", "states"):
        if start.get(key) and not os.path.isfile(start[key]):
            raise InputNotFound("%s file %s does not exist" % (key, start[key]))
    if start.get("params"):
        run.net.load_parameters(start["params"], ctx=run.ctxs)
    if start.get("states"):
        run.trainer.load_states(start["states"])
    run.state.update(epoch=start.get("epoch", 0), iteration=start.get("epoch", 0) * run.steps_per_epoch)
