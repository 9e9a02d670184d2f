"""``fit(recipe)``: data -> network -> optimizer step -> metrics, log, checkpoints, plot.

The pieces are built by small functions (``build_*``); one optimizer step's work is the
:class:`Stepper`; ``fit`` only sequences epochs, evaluation, logging and checkpoints.
"""
import json
import math
import os
import platform
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from .. import data as datasets
from ..models import get_model
from . import parallel, precision
from .checkpoint import CheckpointError, Checkpoints, atomic_text, atomic_write
from .config import Recipe
from .ema import WeightEMA
from .losses import DistillationLoss, SoftTargetLoss, smooth_targets
from .mixing import Mixer
from .report import JsonLog, plot_curves
from .schedule import Schedule


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


# ----------------------------------------------------------------------------- building blocks

def build_data(recipe, part_index=0, num_parts=1):
    """(train loader, test loader, class names); training batches are sharded over ``num_parts``
    distributed workers, the test set is whole on each."""
    if recipe.dataset == "images":
        train, val = _image_sources(recipe)
        return datasets.image_pipelines(train, val, recipe.batch_size, _augment(recipe), recipe.data_backend,
                                        _home(recipe.rec_train_idx), _home(recipe.rec_val_idx), recipe.num_classes,
                                        recipe.data_threads or None, recipe.seed, part_index, num_parts)
    train, test = _small_sets(recipe)
    mean, std = datasets.STATS[recipe.dataset]
    train_loader = datasets.ArrayLoader(train, recipe.batch_size, mean, std, train=True, pad=recipe.pad_crop,
                                        flip=recipe.flip, cutout=recipe.cutout, erase_prob=recipe.random_erasing,
                                        seed=recipe.seed, part_index=part_index, num_parts=num_parts)
    return train_loader, build_test_data(recipe, test), train.classes


def build_test_data(recipe, test=None):
    """The loader of the recipe's test/validation set alone (evaluation without training data)."""
    if recipe.dataset == "images":
        val = _image_sources(recipe, need_train=False)[1]
        return datasets.pipeline_class(val, recipe.data_backend)(
            val, recipe.batch_size, _augment(recipe), False, _home(recipe.rec_val_idx), recipe.num_classes or None,
            recipe.data_threads or None)
    test = test if test is not None else _small_sets(recipe)[1]
    return datasets.ArrayLoader(test, recipe.batch_size, *datasets.STATS[recipe.dataset])


def _small_sets(recipe):
    if recipe.dataset not in datasets.DATASETS:
        raise ValueError("unknown dataset %r; choose from %s" % (recipe.dataset, sorted(datasets.DATASETS)))
    train, test = datasets.DATASETS[recipe.dataset](recipe.data_dir)
    return train.subset(recipe.train_samples, seed=recipe.seed), test.subset(recipe.test_samples)


def _home(path):
    return os.path.expanduser(path) if path else path  # recipes may say ~/...


def _image_sources(recipe, need_train=True):
    if recipe.rec_val and (recipe.rec_train or not need_train):
        return _home(recipe.rec_train), _home(recipe.rec_val)
    if recipe.data_dir:
        return tuple(os.path.join(_home(recipe.data_dir), part) for part in ("train", "val"))
    raise ValueError("--dataset images needs --rec-train and --rec-val, or --data-dir holding train/ and val/ "
                     "class folders")


def _augment(recipe):
    return datasets.Augment(recipe.input_size, recipe.crop_ratio, flip=recipe.flip, jitter=recipe.jitter,
                            lighting=recipe.lighting)


INITIALIZERS = {
    "msra": lambda: mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),  # He et al. 2015
    "xavier": lambda: mx.init.Xavier(),
}


def build_net(name, classes, sample, ctxs, dtype="float32", init="msra", hybridize=True, params=None,
              finetune=True, **kwargs):
    """A registry model on ``ctxs``: initialised (or loaded from ``params``, a file or 'gluoncv'),
    cast, hybridized. Weights for another number of classes get a new classifier when
    ``finetune`` (else they are an error: a teacher must fit the data as it is)."""
    params = pretrained_file(name, params) if params else None
    file_classes = classifier_size(params) if params else classes
    net = get_model(name, classes=file_classes or classes, **kwargs)
    # Shapes by symbolic inference, not a forward pass: an inference-mode pass leaves conv weights
    # in oneDNN's blocked layout, which the dist kvstore then ships with the wrong size.
    net.infer_shape(sample.as_in_context(ctxs[0]))
    net.initialize(INITIALIZERS[init](), ctx=ctxs)
    if params:
        net.load_parameters(params, ctx=ctxs)
        if file_classes and file_classes != classes:
            if not finetune:
                raise ValueError("%s classifies %d classes, the data has %d" % (params, file_classes, classes))
            replace_classifier(net, classes, ctxs, init)
    if dtype == "float16":
        net.cast("float16")  # Gluon's BatchNorm keeps its parameters in float32
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    return net


def pretrained_file(name, source):
    """The .params file ``source`` names: a path, or 'gluoncv' for GluonCV's published weights of
    ``name`` (its model store: the cache under $MXNET_HOME/models, downloaded when missing)."""
    if source != "gluoncv":
        if not os.path.isfile(source):
            raise FileNotFoundError("weights file %s does not exist" % source)
        return source
    from gluoncv.model_zoo.model_store import get_model_file
    try:
        return get_model_file(name, root=os.path.join(mx.base.data_dir(), "models"))
    except ValueError:
        raise ValueError("GluonCV publishes no weights for %r; pass a .params file instead" % name) from None
    except OSError as err:
        raise ValueError("GluonCV's weights for %r are not cached and could not be downloaded (%s); put the "
                         "file in %s or pass it as a path" % (name, err, os.path.join(mx.base.data_dir(), "models")))


def classifier_size(path):
    """Classes of the classifier in a .params file (its last 2-D weight: ``fc``/``output``), or 0."""
    try:
        loaded = mx.nd.load(path)
    except mx.base.MXNetError as err:
        raise ValueError("cannot read %s as an MXNet parameter file: %s" % (path, str(err).splitlines()[0])) from None
    heads = [v for k, v in loaded.items() if k.endswith(("fc.weight", "output.weight")) and v.ndim == 2] \
        if isinstance(loaded, dict) else []
    return heads[-1].shape[0] if heads else 0


def replace_classifier(net, classes, ctxs, init="msra"):
    """A new, freshly initialised classifier for ``classes`` on top of loaded features."""
    attr = "fc" if isinstance(getattr(net, "fc", None), gluon.nn.Dense) else "output"
    old = getattr(net, attr)
    with net.name_scope():
        new = gluon.nn.Dense(classes, in_units=old.weight.shape[1])
    setattr(net, attr, new)
    new.initialize(INITIALIZERS[init](), ctx=ctxs)


def build_trainer(recipe, net, manual_reduce=False, kvstore=None, workers=1):
    """Optimizer by MXNet name; no decay on BN/bias when asked; fp32 master weights under float16.

    Updates run on the workers, never on parameter servers, so optimizer state is checkpointable
    and loss scaling/accumulation see the reduced gradients before the update."""
    if recipe.no_wd:  # Bag of Tricks 3.1: no bias decay (BN gamma/beta and biases)
        for param in net.collect_params(".*gamma|.*beta|.*bias").values():
            param.wd_mult = 0.0
    opt = {"learning_rate": recipe.effective_lr(workers), "wd": recipe.wd}
    if recipe.optimizer in ("sgd", "nag", "signum", "lars", "lbsgd"):
        opt["momentum"] = recipe.momentum
    if recipe.dtype == "float16":
        opt["multi_precision"] = True
    if recipe.optimizer not in mx.optimizer.Optimizer.opt_registry:
        raise ValueError("unknown optimizer %r; MXNet has %s" % (
            recipe.optimizer, ", ".join(sorted(mx.optimizer.Optimizer.opt_registry))))
    kv = kvstore or recipe.kv_store
    if kv == "horovod":
        # Horovod's own Trainer allreduces the gradients (as an average over workers); rank 0's
        # weights, BN statistics included, go to every worker before the first step.
        import horovod.mxnet as hvd
        hvd.broadcast_parameters(net.collect_params(), root_rank=0)
        return hvd.DistributedTrainer(net.collect_params(), recipe.optimizer, opt)
    local_update = manual_reduce or not isinstance(kv, str)
    trainer = gluon.Trainer(net.collect_params(), recipe.optimizer, opt, kvstore=kv,
                            update_on_kvstore=False if local_update else None)
    if not isinstance(kv, str):
        # Broadcast rank 0's weights and wait until every pull has landed. Gluon otherwise does it
        # lazily inside the first step and pushes gradients under the same keys right away: the
        # server can take that push before the weights' pull, and a worker then starts from
        # gradient values instead of weights (MXNet 1.9.1; found here, tests/test_distributed.py).
        trainer._init_kvstore()
        trainer._init_params()
        mx.nd.waitall()
    return trainer


def build_loss(recipe):
    """One loss for every target kind: soft-target CE, or distillation when there is a teacher."""
    if recipe.teacher:
        return DistillationLoss(recipe.temperature, recipe.hard_weight)
    return SoftTargetLoss()


def evaluate(net, loader, ctxs, tta_flip=False):
    """(top-1 accuracy, mean cross-entropy) over a loader; one host sync at the end."""
    report = accuracy_report(net, loader, ctxs, tta_flip)
    return report["top1"], report["loss"]


def accuracy_report(net, loader, ctxs, tta_flip=False, topk=5):
    """Top-1 and top-``topk`` accuracy, mean cross-entropy, image count and img/s over a loader.

    ``tta_flip`` averages the softmax of each image and its mirror image. The host waits once,
    at the end (the timing includes the loader's work)."""
    if not isinstance(ctxs, (list, tuple)):
        ctxs = [ctxs]
    dtype = _net_dtype(net)
    correct, in_top, loss_sum, n = [], [], [], 0
    tic = time.time()
    for x, y in loader.epoch():
        for xi, yi in zip(parallel.split(x, ctxs), parallel.split(y, ctxs)):
            xi = xi.astype(dtype, copy=False)
            prob = mx.nd.softmax(net(xi).astype("float32"))
            if tta_flip:
                prob = (prob + mx.nd.softmax(net(xi.flip(axis=3)).astype("float32"))) / 2
            correct.append((prob.argmax(axis=1) == yi).sum())
            k = min(topk, prob.shape[1])
            in_top.append((mx.nd.topk(prob, k=k, ret_typ="indices") == yi.reshape((-1, 1))).sum())
            loss_sum.append(-mx.nd.log(mx.nd.pick(prob, yi) + 1e-12).sum())
        n += len(y)
    total = lambda parts: sum(float(p.asscalar()) for p in parts)  # noqa: E731
    top1, top5, loss = total(correct) / n, total(in_top) / n, total(loss_sum) / n
    seconds = time.time() - tic
    return {"top1": top1, "top%d" % topk: top5, "loss": loss, "images": n, "seconds": seconds,
            "img_per_s": n / max(seconds, 1e-9)}


def recompute_bn_stats(net, loader, batches, ctxs, epoch_seed=10 ** 6):
    """Replace BN running statistics by their average over ``batches`` training batches.

    fb.resnet.torch found that statistics recomputed on training data after training improve
    top-1; a cumulative average (momentum k/(k+1) at batch k) weighs every batch equally."""
    bns = [b for b in _blocks(net) if isinstance(b, gluon.nn.BatchNorm) and not b._kwargs.get("use_global_stats")]
    saved = [b._kwargs["momentum"] for b in bns]
    net.hybridize(active=False)  # momentum is read per call only when imperative
    dtype = _net_dtype(net)
    try:
        for k, (x, _) in enumerate(loader.epoch(epoch_seed)):
            if k >= batches:
                break
            for b in bns:
                b._kwargs["momentum"] = k / (k + 1.0)
            with autograd.train_mode():
                for xi in parallel.split(x, ctxs):
                    net(xi.astype(dtype, copy=False))
    finally:
        for b, m in zip(bns, saved):
            b._kwargs["momentum"] = m
        net.hybridize(static_alloc=True, static_shape=True)
    mx.nd.waitall()


def _blocks(block):
    yield block
    for child in block._children.values():
        yield from _blocks(child)


def _net_dtype(net):
    for p in net.collect_params().values():
        if not p.name.endswith(("gamma", "beta", "running_mean", "running_var")):
            return p.dtype
    return "float32"


def machine_info():
    flags = precision.cpu_flags()
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "mxnet": mx.__version__,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "cpu_bf16": sorted(flags & set(precision.BF16_CPU_FLAGS)), "avx512f": "avx512f" in flags}


# ----------------------------------------------------------------------------- one step

class Meter:
    """Loss/accuracy sums kept on the device; read (a host sync) only when reported."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.loss, self.correct, self.count = [], [], 0

    def add(self, losses, outs, targets):
        for loss, out, target in zip(losses, outs, targets):
            self.loss.append(loss.sum())
            # Against the target's argmax: the label, or under mixing the dominant image's label.
            self.correct.append((out.argmax(axis=1) == target.argmax(axis=1)).sum())
            self.count += len(loss)
        if len(self.loss) > 64:  # fold, so long intervals keep few arrays alive
            self.loss = [mx.nd.add_n(*[v.as_in_context(self.loss[0].context) for v in self.loss])]
            self.correct = [mx.nd.add_n(*[v.as_in_context(self.correct[0].context) for v in self.correct])]

    def read(self):
        n = max(self.count, 1)
        return (sum(float(v.asscalar()) for v in self.loss) / n,
                sum(float(v.asscalar()) for v in self.correct) / n)


class Stepper:
    """Forward and backward over the contexts, then, every ``accumulate`` micro-batches, the
    (loss-scaled) optimizer update and the EMA update. ``workers``: how many workers' gradients
    the trainer adds up (a kvstore sums them; Horovod's trainer already averages)."""

    def __init__(self, recipe, net, trainer, loss_fn, ctxs, classes, teacher=None, scaler=None, ema=None, workers=1):
        self.recipe, self.net, self.trainer, self.loss_fn, self.workers = recipe, net, trainer, loss_fn, workers
        self.ctxs, self.classes, self.teacher, self.scaler, self.ema = ctxs, classes, teacher, scaler, ema
        self.dtype = recipe.dtype if recipe.dtype == "float16" else "float32"
        self.mixer = Mixer(recipe.mixup_alpha, recipe.cutmix_alpha, recipe.mix_prob, recipe.mix_switch_prob)
        self.params = [p for p in net.collect_params().values() if p.grad_req != "null"]
        if recipe.accumulate > 1:
            for p in self.params:
                p.grad_req = "add"
        self.pending = []
        self.micro = 0

    def mixing(self, epoch):
        return self.mixer.enabled and epoch < self.recipe.epochs - self.recipe.mixup_off_epochs

    def __call__(self, x, y, epoch, rng):
        """One micro-batch. Returns None, or after an optimizer step (applied?, [(losses, outs, targets)])."""
        target = smooth_targets(y, self.classes, self.recipe.label_smoothing)
        if self.mixing(epoch):
            x, target, _, _ = self.mixer(x, target, rng)
        xs = [xi.astype(self.dtype, copy=False) for xi in parallel.split(x, self.ctxs)]
        targets = parallel.split(target, self.ctxs)
        teacher_outs = [self.teacher(xi).astype("float32") for xi in xs] if self.teacher else [None] * len(xs)
        scale = self.scaler.scale if self.scaler else 1.0
        with autograd.record():
            outs = [self.net(xi).astype("float32") for xi in xs]
            losses = [self.loss_fn(o, t, *([tz] if tz is not None else [])) for o, t, tz in zip(outs, targets, teacher_outs)]
            scaled = [loss * scale for loss in losses] if scale != 1.0 else losses
        autograd.backward(scaled)
        self.pending.append((losses, outs, targets))
        self.micro += 1
        if self.micro % self.recipe.accumulate:
            return None
        applied = True
        # Gradients are summed over devices and workers: normalise by the global batch.
        batch = len(y) * self.recipe.accumulate * self.workers * scale
        if self.scaler:  # decide on the reduced gradients, so every worker skips the same steps
            self.trainer.allreduce_grads()
            applied = self.scaler.update(self.scaler.overflowed([g for p in self.params for g in p.list_grad()]))
            if applied:
                self.trainer.update(batch)
        else:
            self.trainer.step(batch)
        if applied:
            if self.ema:
                self.ema.update()
        if self.recipe.accumulate > 1:
            for p in self.params:
                p.zero_grad()
        done, self.pending = self.pending, []
        return applied, done


# ----------------------------------------------------------------------------- the loop

# Where the data or the starting weights live, and how often to log/save, may change on resume.
RESUMABLE_CHANGES = {"save_dir", "log_interval", "checkpoint_interval", "save_frequency", "data_dir", "rec_train", "rec_train_idx",
                     "rec_val", "rec_val_idx", "data_threads", "pretrained"}


def _restore(recipe, checkpoints, net, trainer, ema, scaler, ctxs, workers):
    found = checkpoints.latest()
    if found is None:
        return None
    path, meta = found
    if meta.get("workers", 1) != workers:  # the data order of every step depends on it
        raise CheckpointError("%s was written by a job of %d worker(s); resume it with the same number, not %d"
                              % (path, meta.get("workers", 1), workers))
    saved = Recipe.from_dict(meta["recipe"])
    changed = sorted(k for k, v in recipe.to_dict().items()
                     if k not in RESUMABLE_CHANGES and saved.to_dict()[k] != v)
    if changed:
        raise CheckpointError("--resume continues the recipe saved in %s, but these fields differ: %s; "
                              "drop those flags or start a new --save-dir" % (path, ", ".join(changed)))
    net.load_parameters(os.path.join(path, "model.params"), ctx=ctxs)
    trainer.load_states(os.path.join(path, "trainer.states"))
    if ema is not None:
        ema.load(os.path.join(path, "ema.params"))
    if scaler is not None:
        scaler.load_state_dict(meta["scaler"])
    return meta


def _warm_start(start, net, trainer, ctxs, state, steps_per_epoch, epochs):
    if not 0 <= start.get("epoch", 0) < epochs:
        raise ValueError("the start epoch %d is not in [0, epochs=%d)" % (start["epoch"], epochs))
    for key in ("params", "states"):
        if start.get(key) and not os.path.isfile(start[key]):
            raise FileNotFoundError("%s file %s does not exist" % (key, start[key]))
    if start.get("params"):
        net.load_parameters(start["params"], ctx=ctxs)
    if start.get("states"):
        trainer.load_states(start["states"])
    state.update(epoch=start.get("epoch", 0), iteration=start.get("epoch", 0) * steps_per_epoch)


def fit(recipe, progress=True, resume=False, contexts=None, start=None):
    """Train ``recipe`` to the end; returns a summary dict. Everything it writes goes to ``recipe.save_dir``.

    ``resume=True`` continues from the newest checkpoint in ``save_dir`` (or starts fresh if none).
    ``start={"epoch": N, "params": F, "states": S}`` begins at epoch N from a weights file and
    (optionally) an optimizer-state file written elsewhere (GluonCV's ``--resume-*`` flags).
    ``contexts`` overrides the devices ``recipe.gpus`` names (tests use ``[mx.cpu(0), mx.cpu(1)]``).
    Under a dist_* kvstore or Horovod every worker trains; only worker 0 writes the log, plots and checkpoints,
    and every worker resumes from ``save_dir`` (so it must be shared, or copied to each machine)."""
    from tqdm import tqdm

    recipe = recipe.validate() if isinstance(recipe, Recipe) else Recipe.from_dict(recipe).validate()
    ctxs = list(contexts) if contexts else parallel.contexts(recipe.gpus)
    precision.check_dtype(recipe.dtype, ctxs)
    parallel.check_kvstore(recipe.kv_store, ctxs)
    if recipe.teacher:
        get_model(recipe.teacher)  # unknown names fail before any data is read
    if recipe.dtype == "bfloat16":
        from mxnet.contrib import amp
        amp.init(target_dtype="bfloat16")  # process-wide: conv/FC in bf16, BN and softmax in fp32
    mx.random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    kv, rank, workers = parallel.kvstore(recipe.kv_store)
    ctxs = parallel.worker_contexts(ctxs, recipe.kv_store)
    chief = rank == 0
    progress = progress and chief
    train_loader, test_loader, class_names = build_data(recipe, rank, workers)  # bad data stops here
    os.makedirs(recipe.save_dir, exist_ok=True)
    log = JsonLog(os.path.join(recipe.save_dir, "log.jsonl") if chief else None)
    plot_path = os.path.join(recipe.save_dir, "curves.png")
    classes = len(class_names)
    sample = mx.nd.zeros((1,) + tuple(train_loader.data_shape))
    kwargs = dict(recipe.model_kwargs, **({"last_gamma": True} if recipe.last_gamma else {}))
    net = build_net(recipe.model, classes, sample, ctxs, recipe.dtype, recipe.init, recipe.hybridize,
                    params=recipe.pretrained, **kwargs)
    teacher = None
    if recipe.teacher:
        if not recipe.teacher_params:
            raise ValueError("a teacher needs weights: pass --teacher-params FILE, or 'gluoncv' for GluonCV's "
                             "published weights of %r" % recipe.teacher)
        teacher = build_net(recipe.teacher, classes, sample, ctxs, recipe.dtype, hybridize=recipe.hybridize,
                            params=recipe.teacher_params, finetune=False)
    scaler = None
    if recipe.dtype == "float16":
        scaler = precision.LossScaler(recipe.loss_scale or 2.0 ** 16, dynamic=not recipe.loss_scale)
    trainer = build_trainer(recipe, net, scaler is not None or recipe.accumulate > 1, kv, workers)
    ema = WeightEMA(net, recipe.ema_decay, ctxs[0]) if recipe.ema_decay else None
    summed = 1 if recipe.kv_store == "horovod" else workers  # Horovod averages over workers, kvstores sum
    stepper = Stepper(recipe, net, trainer, build_loss(recipe), ctxs, classes, teacher, scaler, ema, summed)
    steps_per_epoch = len(train_loader) // recipe.accumulate
    if steps_per_epoch < 1:
        raise ValueError("an epoch has %d batches, fewer than accumulate=%d" % (len(train_loader), recipe.accumulate))
    schedule = Schedule.from_recipe(recipe, steps_per_epoch)
    checkpoints = Checkpoints(recipe.save_dir)

    state = {"epoch": 0, "batch": 0, "iteration": 0, "train_time": 0.0, "best_acc": -1.0, "best_epoch": -1}
    meta = _restore(recipe, checkpoints, net, trainer, ema, scaler, ctxs, workers) if resume else None
    if meta:
        state.update(meta["state"])
    elif start:
        _warm_start(start, net, trainer, ctxs, state, steps_per_epoch, recipe.epochs)
    if chief:
        recipe.save(os.path.join(recipe.save_dir, "recipe.json"))
        atomic_text(os.path.join(recipe.save_dir, "classes.json"), json.dumps(list(class_names)))
    log.write({"kind": "resume" if meta else "start", "time": time.time(), "recipe": recipe.to_dict(),
               "machine": machine_info(), "steps_per_epoch": steps_per_epoch, "state": state, "workers": workers})

    def save(epoch, batch):
        if not chief:
            return
        writers = {"model.params": net.save_parameters, "trainer.states": trainer.save_states}
        if ema is not None:
            writers["ema.params"] = ema.save
        checkpoints.save(state["iteration"], writers, {
            "recipe": recipe.to_dict(), "state": dict(state, epoch=epoch, batch=batch), "workers": workers,
            "scaler": scaler.state_dict() if scaler else None})

    interval, epoch_meter = Meter(), Meter()
    lr = schedule(state["iteration"])
    test_acc = None
    for epoch in range(state["epoch"], recipe.epochs):
        epoch_meter.reset()
        interval.reset()
        first = state["batch"] if epoch == state["epoch"] else 0
        tic = interval_tic = time.time()
        data_time = epoch_time = 0.0
        micro_batches = steps_per_epoch * recipe.accumulate  # no partial accumulation spills into the next epoch
        bar = tqdm(total=micro_batches, initial=first, desc="epoch %d/%d" % (epoch + 1, recipe.epochs),
                   disable=not progress, leave=False, dynamic_ncols=True)
        batches = train_loader.epoch(epoch, start=first)
        previous = None
        for b in range(first, micro_batches):
            t0 = time.time()
            x, y = next(batches)
            data_time += time.time() - t0
            lr = schedule(state["iteration"])
            trainer.set_learning_rate(lr)
            result = stepper(x, y, epoch, np.random.default_rng((recipe.seed, epoch, b, 2)))
            bar.update(1)
            if result is None:
                continue
            applied, done = result
            for losses, outs, targets in done if applied else ():
                interval.add(losses, outs, targets)
                epoch_meter.add(losses, outs, targets)
            if previous is not None:  # at most two steps in flight: bounded memory, no stall
                previous.wait_to_read()
            previous = done[-1][0][-1]
            state["iteration"] += 1
            if state["iteration"] % recipe.log_interval == 0:
                mean_loss, acc = interval.read()
                if not math.isfinite(mean_loss):
                    raise TrainingDiverged("training loss is %s at iteration %d (epoch %d, lr %.4g); lower --lr or "
                                           "raise --warmup-epochs" % (mean_loss, state["iteration"], epoch + 1, lr))
                now = time.time()
                speed = interval.count / max(now - interval_tic, 1e-9)
                record = {"kind": "interval", "epoch": epoch, "iter": state["iteration"],
                          "epoch_float": state["iteration"] / steps_per_epoch, "loss": mean_loss, "acc": acc,
                          "lr": lr, "img_per_s": speed, "data_wait": data_time / max(now - interval_tic, 1e-9)}
                if scaler:
                    record.update(loss_scale=scaler.scale, skipped_steps=scaler.skipped)
                log.write(record)
                bar.set_postfix(loss="%.3f" % mean_loss, acc="%.3f" % acc, lr="%.3g" % lr, ips="%.0f" % speed)
                interval.reset()
                interval_tic, data_time = now, 0.0
            if recipe.checkpoint_interval and state["iteration"] % recipe.checkpoint_interval == 0 \
                    and b + 1 < micro_batches:
                mx.nd.waitall()
                segment = time.time() - tic
                epoch_time += segment
                state["train_time"] += segment
                save(epoch, b + 1)
                tic = time.time()  # checkpoint writing is not training time
        train_loss, train_acc = epoch_meter.read()  # waits for the epoch's last step
        bar.close()
        segment = time.time() - tic
        epoch_time += segment
        state["train_time"] += segment
        if epoch_meter.count and not math.isfinite(train_loss):
            raise TrainingDiverged("training loss is %s after epoch %d; lower --lr" % (train_loss, epoch + 1))
        test_acc, test_loss = evaluate(net, test_loader, ctxs, recipe.tta_flip)
        record = {"kind": "epoch", "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                  "test_loss": test_loss, "test_acc": test_acc, "epoch_time": epoch_time,
                  "train_time": state["train_time"], "img_per_s": epoch_meter.count / max(epoch_time, 1e-9), "lr": lr}
        if ema is not None:
            with ema.applied():
                record["ema_test_acc"], record["ema_test_loss"] = evaluate(net, test_loader, ctxs, recipe.tta_flip)
        if scaler:
            record.update(loss_scale=scaler.scale, skipped_steps=scaler.skipped)
        if test_acc > state["best_acc"]:
            state.update(best_acc=test_acc, best_epoch=epoch)
            if chief:
                atomic_write(os.path.join(recipe.save_dir, "best.params"), net.save_parameters)
        log.write(record)
        save(epoch + 1, 0)
        if chief and recipe.save_frequency and (epoch + 1) % recipe.save_frequency == 0:
            atomic_write(os.path.join(recipe.save_dir, "%s-%04d.params" % (recipe.model, epoch + 1)),
                         net.save_parameters)
        if chief:
            plot_curves(log.path, plot_path)
        line = ("epoch %d/%d  train loss %.4f acc %.4f  test loss %.4f acc %.4f  %.1f s (%.0f img/s)"
                % (epoch + 1, recipe.epochs, train_loss, train_acc, test_loss, test_acc, epoch_time,
                   record["img_per_s"]))
        if ema is not None:
            line += "  EMA acc %.4f" % record["ema_test_acc"]
        if chief:
            tqdm.write(line) if progress else print(line, flush=True)
    if test_acc is None:  # resumed a finished run: nothing trained, measure what is there
        test_acc = evaluate(net, test_loader, ctxs, recipe.tta_flip)[0]
    summary = {"final_test_acc": test_acc, "best_test_acc": state["best_acc"], "best_epoch": state["best_epoch"] + 1,
               "epochs": recipe.epochs, "train_time": state["train_time"], "save_dir": recipe.save_dir,
               "log": log.path, "plot": plot_path, "checkpoint": checkpoints.latest_file, "iterations": state["iteration"],
               "rank": rank, "workers": workers}
    if recipe.bn_recompute_batches:
        recompute_bn_stats(net, train_loader, recipe.bn_recompute_batches, ctxs)
        summary["bn_recomputed_test_acc"] = evaluate(net, test_loader, ctxs, recipe.tta_flip)[0]
        if chief:
            atomic_write(os.path.join(recipe.save_dir, "bn_recomputed.params"), net.save_parameters)
    log.write(dict(summary, kind="end", time=time.time()))
    return summary
