"""One optimizer step: the loss, the trainer, and the :class:`Stepper` that runs forward and
backward over the devices and applies the (loss-scaled, accumulated) update. ``fit``, the
benchmark and the bench scripts all time this same step."""
import json

import mxnet as mx
from mxnet import autograd

from . import parallel
from .losses import DistillationLoss, SoftTargetLoss, smooth_targets
from .mixing import Mixer
from .parallel import Reduction
from .precision import Precision
from ..errors import BadInput


def build_loss(recipe):
    """One loss for every target kind: soft-target CE, or distillation when there is a teacher."""
    if recipe.teacher:
        return DistillationLoss(recipe.temperature, recipe.hard_weight)
    return SoftTargetLoss()


def check_optimizer(name, params=None):
    """Stop before any work on an optimizer MXNet does not have, or on settings it does not take."""
    if name not in mx.optimizer.Optimizer.opt_registry:
        raise BadInput("unknown optimizer %r; MXNet has %s" % (name, ", ".join(sorted(mx.optimizer.Optimizer.opt_registry))))
    try:
        mx.optimizer.create(name, **(params or {}))
    except TypeError as e:
        raise BadInput("optimizer_params %s: %s does not take them (%s)" % (json.dumps(params), name, e)) from None


def build_trainer(recipe, net, reduction=None, precision=None):
    """Optimizer by MXNet name at the recipe's (linearly scaled) lr; no decay on BN and biases
    and a faster lr on BN biases when asked; float32 master weights under float16; reduced by ``reduction``."""
    reduction = reduction or Reduction()
    precision = precision or Precision.from_recipe(recipe)
    check_optimizer(recipe.optimizer, recipe.optimizer_params)
    if recipe.no_wd:  # Bag of Tricks 3.1: no bias decay (BN gamma/beta and biases)
        for param in net.collect_params(".*gamma|.*beta|.*bias").values():
            param.wd_mult = 0.0
    if recipe.bn_bias_lr_mult != 1:
        for param in net.collect_params(".*beta").values():
            param.lr_mult = recipe.bn_bias_lr_mult
    opt = {"learning_rate": recipe.effective_lr(reduction.workers), "wd": recipe.wd}
    if recipe.optimizer in ("sgd", "nag", "signum", "lars", "lbsgd"):
        opt["momentum"] = recipe.momentum
    opt.update(recipe.optimizer_params)
    opt.update(precision.optimizer_params())
    by_hand = precision.dtype == "float16" or recipe.accumulate > 1
    return reduction.trainer(net.collect_params(), recipe.optimizer, opt, reduce_by_hand=by_hand)


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
    optimizer update: loss-scaled and skipped on overflow under float16, normalised by the global
    batch (every device's and every summed worker's images)."""

    def __init__(self, recipe, net, trainer, loss_fn, ctxs, classes, teacher=None, precision=None, reduction=None):
        self.recipe, self.net, self.trainer, self.loss_fn = recipe, net, trainer, loss_fn
        self.ctxs, self.classes, self.teacher = ctxs, classes, teacher
        precision = precision or Precision.from_recipe(recipe)
        self.dtype, self.scaler = precision.input_dtype, precision.scaler()
        self.grad_sum_over = (reduction or Reduction()).grad_sum_over
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
        batch = len(y) * self.recipe.accumulate * self.grad_sum_over * scale
        if self.scaler:  # decide on the reduced gradients, so every worker skips the same steps
            self.trainer.allreduce_grads()
            applied = self.scaler.update(self.scaler.overflowed([g for p in self.params for g in p.list_grad()]))
            if applied:
                self.trainer.update(batch)
        else:
            self.trainer.step(batch)
        if self.recipe.accumulate > 1:
            for p in self.params:
                p.zero_grad()
        done, self.pending = self.pending, []
        return applied, done
