"""What happens around the training loop, each as a hook: progress and logs, the weight EMA,
Lookahead, the best weights, checkpoints, BN re-estimation. ``fit`` calls every hook at the same points, so
a new trick (SWA, stochastic-depth schedules, early stopping) is a new hook, not an edit of the
loop.

A hook sees the :class:`~gluon_tricks.train.loop.TrainingRun` (the network, trainer, loaders,
recipe, ``state`` and ``position``) and may add fields to the epoch record or the summary."""
import json
import math
import os
import time

import mxnet as mx

from ..machine import machine_info
from .checkpoint import Checkpoints, atomic_text, atomic_write
from .config import Recipe
from .ema import Lookahead, WeightEMA
from .evaluation import recompute_bn_stats
from .report import EventLog, JsonLog, plot_curves
from .step import Meter
from ..errors import RUN_FAILED, BadInput, UserError


class TrainingDiverged(UserError, RuntimeError):
    """The training loss became NaN or infinite."""
    status = RUN_FAILED


class Hook:
    """Every method is optional. ``files`` names extra checkpoint files: {name: (save, load)}."""

    def start(self, run):
        """Before the first epoch; ``run.state`` is restored already."""

    def epoch_start(self, run, epoch, first_batch, batches):
        """Before a (possibly resumed) epoch's first micro-batch."""

    def step(self, run, applied, done):
        """After each optimizer step; ``done``: [(losses, outs, targets)] of its micro-batches."""

    def epoch_end(self, run, record):
        """After an epoch's evaluation; ``record`` is the epoch's log record, to add to."""

    def end(self, run, summary):
        """After the last epoch; ``summary`` is fit's return value, to add to."""

    def files(self):
        return {}


class EMAHook(Hook):
    """Exponential moving average of the weights, updated after every applied step, evaluated
    beside the weights each epoch and checkpointed with them."""

    def __init__(self, run, decay):
        self.ema = WeightEMA(run.net, decay, run.ctxs[0])

    def step(self, run, applied, done):
        if applied:
            self.ema.update()

    def epoch_end(self, run, record):
        if "test_acc" not in record:  # an epoch the recipe does not evaluate
            return
        with self.ema.applied():
            record["ema_test_acc"], record["ema_test_loss"] = run.evaluate()

    def files(self):
        return {"ema.params": (self.ema.save, self.ema.load)}


class LookaheadHook(Hook):
    """Lookahead (:class:`~gluon_tricks.train.ema.Lookahead`) over the run's optimizer steps; its
    slow weights are checkpointed, so a resumed run averages on from where it stopped."""

    def __init__(self, run):
        recipe = run.recipe
        if recipe.dtype == "float16":  # the optimizer steps its float32 master copy, which a write-back misses
            raise BadInput("lookahead_every does not work with float16 training (its float32 master weights live "
                           "in the optimizer); train in float32 or bfloat16, or set lookahead_every 0")
        self.lookahead = Lookahead(run.net, run.steps_per_epoch * recipe.epochs, recipe.lookahead_every,
                                   recipe.lookahead_decay, run.ctxs[0])

    def step(self, run, applied, done):
        if applied:
            self.lookahead.step(run.state["iteration"])

    def files(self):
        average = self.lookahead.average
        return {"lookahead.params": (average.save, average.load)}


class BestWeights(Hook):
    """``best.params``: the weights of the epoch with the best test accuracy."""

    def epoch_end(self, run, record):
        if record.get("test_acc", -1.0) > run.state["best_acc"]:
            run.state.update(best_acc=record["test_acc"], best_epoch=record["epoch"])
            if run.chief:
                atomic_write(os.path.join(run.recipe.save_dir, "best.params"), run.net.save_parameters)


class ParamStats(Hook):
    """Mean absolute value of groups of parameters (``{label: regex over structural names}``),
    at the start, every ``every`` optimizer steps and after every epoch, into
    ``param_stats.jsonl``: how a trick moves the weights, e.g. zero-initialised BN gammas."""

    def __init__(self, groups, every=0, file="param_stats.jsonl"):
        import re
        self.groups = {label: re.compile(pattern) for label, pattern in groups.items()}
        self.every, self.file, self.steps, self.log = every, file, 0, None

    def _write(self, run, **where):
        params = run.net._collect_params_with_prefix()
        record = dict(where)
        for label, pattern in self.groups.items():
            chosen = [p.data(run.ctxs[0]).astype("float32") for name, p in params.items() if pattern.search(name)]
            if not chosen:
                raise BadInput("ParamStats group %r matches no parameter" % label)
            record[label] = float(sum(mx.nd.abs(a).sum().asscalar() for a in chosen) / sum(a.size for a in chosen))
        self.log.write(record)

    def start(self, run):
        self.log = JsonLog(os.path.join(run.recipe.save_dir, self.file) if run.chief else None)
        self._write(run, epoch=run.position[0], step=0)

    def step(self, run, applied, done):
        self.steps += bool(applied)
        if applied and self.every and self.steps % self.every == 0:
            self._write(run, step=self.steps)

    def epoch_end(self, run, record):
        self._write(run, epoch=record["epoch"], step=self.steps)


# Where the data or the starting weights live, and how often to log/save, may change on resume.
RESUMABLE_CHANGES = {"save_dir", "log_interval", "checkpoint_interval", "save_frequency", "data_dir", "rec_train",
                     "rec_train_idx", "rec_val", "rec_val_idx", "data_threads", "pretrained", "data_backend"}


class Checkpointer(Hook):
    """Atomic, verified checkpoints at every epoch end (and every ``checkpoint_interval`` steps):
    weights, optimizer state, every hook's files, the loss scale and the loop's position."""

    def __init__(self, run):
        self.checkpoints = Checkpoints(run.recipe.save_dir)

    def restore(self, run):
        """Load the newest checkpoint into ``run``; its meta, or None when there is none."""
        found = self.checkpoints.latest()
        if found is None:
            return None
        path, meta = found
        workers = run.reduction.workers
        if meta.get("workers", 1) != workers:  # the data order of every step depends on it
            raise BadInput("%s was written by a job of %d worker(s); resume it with the same number, not %d"
                           % (path, meta.get("workers", 1), workers))
        saved = Recipe.from_dict(meta["recipe"]).to_dict()
        changed = sorted(k for k, v in run.recipe.to_dict().items() if k not in RESUMABLE_CHANGES and saved[k] != v)
        if changed:
            raise BadInput("--resume continues the recipe saved in %s, but these fields differ: %s; "
                           "drop those flags or start a new --save-dir" % (path, ", ".join(changed)))
        run.net.load_parameters(os.path.join(path, "model.params"), ctx=run.ctxs)
        run.trainer.load_states(os.path.join(path, "trainer.states"))
        for name, (_, load) in run.hook_files().items():
            load(os.path.join(path, name))
        if run.stepper.scaler is not None:
            run.stepper.scaler.load_state_dict(meta["scaler"])
        run.state.update(meta["state"])
        return meta

    def save(self, run, epoch, batch):
        if not run.chief:
            return
        writers = {"model.params": run.net.save_parameters, "trainer.states": run.trainer.save_states}
        writers.update({name: save for name, (save, _) in run.hook_files().items()})
        scaler = run.stepper.scaler
        self.checkpoints.save(run.state["iteration"], writers, {
            "recipe": run.recipe.to_dict(), "state": dict(run.state, epoch=epoch, batch=batch),
            "workers": run.reduction.workers, "scaler": scaler.state_dict() if scaler else None})

    def step(self, run, applied, done):
        every = run.recipe.checkpoint_interval
        epoch, batch, batches = run.position
        if every and run.state["iteration"] % every == 0 and batch < batches:
            mx.nd.waitall()
            run.bank_time()
            self.save(run, epoch, batch)
            run.tic = time.time()  # writing checkpoints is not training time

    def epoch_end(self, run, record):
        epoch = record["epoch"]
        self.save(run, epoch + 1, 0)
        every = run.recipe.save_frequency
        if run.chief and every and (epoch + 1) % every == 0:  # GluonCV's --save-frequency
            atomic_write(os.path.join(run.recipe.save_dir, "%s-%04d.params" % (run.recipe.model, epoch + 1)),
                         run.net.save_parameters)

    def end(self, run, summary):
        summary["checkpoint"] = self.checkpoints.latest_file


class Reporter(Hook):
    """The progress bar, the JSON-lines log and its TensorBoard twin (only worker 0 writes), the
    curves' PNG and one line per epoch. Reading the interval's loss is the loop's only regular host
    sync, and where a diverged run is stopped."""

    def __init__(self, run, progress=True, tensorboard=True):
        from tqdm import tqdm
        self.tqdm = tqdm
        self.progress = progress and run.chief
        self.log = JsonLog(os.path.join(run.recipe.save_dir, "log.jsonl") if run.chief else None)
        self.events = EventLog(run.recipe.save_dir if run.chief and tensorboard else None)
        self.plot = os.path.join(run.recipe.save_dir, "curves.png")
        self.interval, self.bar = Meter(), None

    def start(self, run):
        run.log = self.log
        if run.chief:
            run.recipe.save(os.path.join(run.recipe.save_dir, "recipe.json"))
            atomic_text(os.path.join(run.recipe.save_dir, "classes.json"), json.dumps(list(run.class_names)))
        self.log.write({"kind": "resume" if run.resumed else "start", "time": time.time(),
                        "recipe": run.recipe.to_dict(), "machine": machine_info(),
                        "steps_per_epoch": run.steps_per_epoch, "state": run.state, "workers": run.reduction.workers,
                        "earlier_runs_in_process": run.earlier_runs})

    def epoch_start(self, run, epoch, first_batch, batches):
        self.interval.reset()
        self.tic = time.time()
        self.bar = self.tqdm(total=batches, initial=first_batch, desc="epoch %d/%d" % (epoch + 1, run.recipe.epochs),
                             disable=not self.progress, leave=False, dynamic_ncols=True)

    def step(self, run, applied, done):
        self.bar.update(len(done))
        for item in done if applied else ():
            self.interval.add(*item)
        if run.state["iteration"] % run.recipe.log_interval:
            return
        mean_loss, acc = self.interval.read()
        epoch = run.position[0]
        if not math.isfinite(mean_loss):
            raise TrainingDiverged("training loss is %s at iteration %d (epoch %d, lr %.4g); lower --lr or raise "
                                   "--warmup-epochs" % (mean_loss, run.state["iteration"], epoch + 1, run.lr))
        now = time.time()
        elapsed = max(now - self.tic, 1e-9)
        speed = self.interval.count / elapsed
        record = {"kind": "interval", "epoch": epoch, "iter": run.state["iteration"],
                  "epoch_float": run.state["iteration"] / run.steps_per_epoch, "loss": mean_loss, "acc": acc,
                  "lr": run.lr, "img_per_s": speed, "data_wait": run.data_time / elapsed}
        if run.stepper.scaler:
            record.update(loss_scale=run.stepper.scaler.scale, skipped_steps=run.stepper.scaler.skipped)
        self.write(record)
        self.bar.set_postfix(loss="%.3f" % mean_loss, acc="%.3f" % acc, lr="%.3g" % run.lr, ips="%.0f" % speed)
        self.interval.reset()
        self.tic, run.data_time = now, 0.0

    def epoch_end(self, run, record):
        self.bar.close()
        if run.stepper.scaler:
            record.update(loss_scale=run.stepper.scaler.scale, skipped_steps=run.stepper.scaler.skipped)
        self.write(record)
        if not run.chief:
            return
        plot_curves(self.log.path, self.plot)
        test = ("test loss %.4f acc %.4f" % (record["test_loss"], record["test_acc"]) if "test_acc" in record
                else "(not evaluated)")
        line = ("epoch %d/%d  train loss %.4f acc %.4f  %s  %.1f s (%.0f img/s)"
                % (record["epoch"] + 1, run.recipe.epochs, record["train_loss"], record["train_acc"], test,
                   record["epoch_time"], record["img_per_s"]))
        if "ema_test_acc" in record:
            line += "  EMA acc %.4f" % record["ema_test_acc"]
        if record.get("skipped_images"):
            line += "  (%d undecodable images skipped)" % record["skipped_images"]
        self.tqdm.write(line) if self.progress else print(line, flush=True)

    def write(self, record):
        self.log.write(record)
        self.events.write(record)

    def end(self, run, summary):
        summary.update(log=self.log.path, plot=self.plot, events=self.events.path)


class BNRecompute(Hook):
    """After training, BN statistics re-estimated on ``batches`` training batches (fb.resnet.torch),
    saved as ``bn_recomputed.params`` and evaluated beside the trained ones."""

    def __init__(self, batches):
        self.batches = batches

    def end(self, run, summary):
        recompute_bn_stats(run.net, run.train_loader, self.batches, run.ctxs)
        summary["bn_recomputed_test_acc"] = run.evaluate()[0]
        if run.chief:
            atomic_write(os.path.join(run.recipe.save_dir, "bn_recomputed.params"), run.net.save_parameters)


def recipe_hooks(run, progress=True, tensorboard=True):
    """The hooks a recipe switches on, in the order they run at each point."""
    hooks = [LookaheadHook(run)] if run.recipe.lookahead_every else []
    hooks += [EMAHook(run, run.recipe.ema_decay)] if run.recipe.ema_decay else []
    hooks += [BestWeights(), Reporter(run, progress, tensorboard), Checkpointer(run)]
    if run.recipe.bn_recompute_batches:
        hooks.append(BNRecompute(run.recipe.bn_recompute_batches))
    return hooks
