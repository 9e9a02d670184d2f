"""One typed recipe: every field is one setting of a run, and a recipe file is this dict."""
import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Optional

from ..data import BACKENDS, dataset_names
from ..data.backends import BACKEND_ALIASES
from ..errors import BadInput, InputNotFound


def opt(default, help, flag=None, negative=None, choices=None):
    """A recipe field: its default and what its command-line flag shows.

    ``flag`` overrides the flag name ("-" = no flag); ``negative`` names the flag that sets a
    boolean False; ``choices`` limits the values."""
    return field(default=default, metadata={"help": help, "flag": flag, "negative": negative, "choices": choices})


@dataclass
class Recipe:
    """Every setting of a run. Field help texts double as the scripts' --help."""
    # model
    model: str = opt("cifar_resnet20_v1b", "registry name, e.g. cifar_resnet20_v1b, cifar_resnet56_v1d, resnet50_v1d")
    pretrained: Optional[str] = opt(None, "start from these weights: a .params file (ours, or GluonCV's for the same "
                                          "architecture), 'zoo' (or 'gluoncv': the published weights of --model, "
                                          "shipped here or downloaded), a version tag, or a published name on the "
                                          "same architecture; a classifier for another number of classes is "
                                          "replaced by a new one (fine-tuning)")
    model_kwargs: dict = field(default_factory=dict, metadata={
        "help": "model settings as JSON, e.g. '{\"stem\": \"deep\", \"down\": \"avg\"}'", "flag": None, "negative": None})
    # data
    dataset: str = opt("fashion-mnist", "data set: a small in-memory one (CIFAR from --data-dir: the python or binary "
                                        "distribution), or 'images': your own RecordIO files (--rec-train/--rec-val) "
                                        "or image folders (<data-dir>/train/<class>/*.jpg and <data-dir>/val/...)",
                       choices=dataset_names() + ("images",))
    data_dir: Optional[str] = opt(None, "directory with the data set's files; default: Debian's /usr/share/datasets/"
                                        "<name>, then MXNet's cache/download in $MXNET_HOME/datasets")
    rec_train: Optional[str] = opt(None, "images: the training .rec (scripts/pack.py or MXNet's im2rec.py)")
    rec_train_idx: Optional[str] = opt(None, "images: its .idx (default: beside the .rec)")
    rec_val: Optional[str] = opt(None, "images: the validation .rec")
    rec_val_idx: Optional[str] = opt(None, "images: its .idx (default: beside the .rec)")
    data_backend: str = opt("threads", "images from .rec files: 'threads', our loader (OpenCV in a thread pool, "
                                       "decoding only each crop's region; 2.2x ImageRecordIter's img/s on 2 cores, "
                                       "docs/results/input_pipeline.rst; folders always use it), or "
                                       "'imagerecorditer', MXNet's ImageRecordIter (augments in C++)",
                            choices=tuple(BACKENDS) + tuple(BACKEND_ALIASES))
    input_size: int = opt(224, "images: training crop and validation centre-crop size")
    crop_ratio: float = opt(0.875, "images: validation resizes the shorter side to input_size / crop_ratio")
    jitter: float = opt(0.4, "images: brightness/contrast/saturation jitter; 0 = off")
    lighting: float = opt(0.1, "images: PCA lighting noise; 0 = off")
    rgb_mean: tuple = opt((), "images: per-channel mean subtracted, 0-255 RGB, e.g. 123.68,116.779,103.939; empty = "
                              "ImageNet's (those values)")
    rgb_std: tuple = opt((), "images: per-channel std divided by, 0-255 RGB; empty = ImageNet's 58.393,57.12,57.375")
    data_threads: int = opt(0, "images: decoding threads; 0 = one per core")
    num_classes: int = opt(0, "classes; 0 = from the data (the .rec's .classes.json, the folders, or the largest "
                              "label + 1)")
    batch_size: int = opt(128, "images per micro-batch, all devices of one worker together (a dist_sync job "
                               "steps on batch_size x workers)")
    pad_crop: int = opt(2, "pad by N pixels, then random-crop back; 0 = off")
    flip: bool = opt(True, "random horizontal flip", negative="--no-flip")
    alternate_flip: bool = opt(False, "small data sets: each image mirrored in every other epoch (a random half in "
                                      "the first) instead of by a coin per epoch, so any two epochs in a row show "
                                      "both views (airbench)")
    train_samples: int = opt(0, "train on a fixed random subset of N images (quick trials); 0 = all")
    test_samples: int = opt(0, "evaluate on N test images only (a small set's first N; a seeded random N of your "
                               "own images); 0 = all")
    train_sizes: tuple = opt((), "progressive resizing (small data sets): training input sizes, one per equal stage "
                                  "of the epochs, e.g. 20,24,28,28 (repeat a size to lengthen its stage); evaluation "
                                  "stays at the native size; empty = native size throughout")
    cutout: int = opt(0, "cutout: zero an NxN square per image (Myrtle's CIFAR recipe uses 8 at 32 px); 0 = off")
    random_erasing: float = opt(0.0, "random erasing probability per image (Zhong et al.); 0 = off")
    # optimisation (Bag of Tricks baseline, sections 3 and 5)
    epochs: int = opt(15, "training epochs")
    optimizer: str = opt("nag", "any MXNet optimizer by name: nag (Nesterov), sgd, adam, adamw, rmsprop, adagrad, "
                                "adadelta, lamb, ...")
    optimizer_params: dict = field(default_factory=dict, metadata={
        "help": "more settings of the optimizer by MXNet's names, as JSON, e.g. '{\"beta1\": 0.95}' for adam or "
                "'{\"epsilon\": 1e-6}' for adadelta (which has no learning rate in MXNet)", "flag": None,
        "negative": None})
    lr: float = opt(0.1, "peak learning rate after warmup (see --lr-batch-scale)")
    lr_batch_scale: int = opt(0, "linear scaling: lr = lr * batch_size * accumulate * workers / N (the paper uses "
                                 "256); 0 = off")
    lr_mode: str = opt("cosine", "decay after warmup", choices=("cosine", "step", "linear", "poly"))
    warmup_epochs: float = opt(1.0, "linear warmup length in epochs, may be fractional")
    warmup_lr: float = opt(0.0, "learning rate at the start of warmup")
    final_lr: float = opt(0.0, "learning rate at the end of cosine/linear/poly decay")
    lr_decay_epochs: tuple = opt((), "step mode: epochs at which the lr is multiplied by --lr-decay, e.g. 30,60,80")
    lr_decay: float = opt(0.1, "step mode: the factor")
    momentum: float = opt(0.9, "momentum for sgd, nag, signum, lars, lbsgd")
    wd: float = opt(5e-4, "weight decay")
    no_wd: bool = opt(True, "no weight decay on BN gamma/beta and biases (paper 3.1)", negative="--decay-all")
    accumulate: int = opt(1, "micro-batches whose gradients are summed per optimizer step (a larger total batch, "
                             "as NVIDIA's --optimizer-batch-size)")
    # tricks
    label_smoothing: float = opt(0.1, "label smoothing epsilon; 0 = plain cross-entropy")
    mixup_alpha: float = opt(0.0, "mixup: lam ~ Beta(alpha, alpha); 0 = off (paper: 0.2)")
    cutmix_alpha: float = opt(0.0, "CutMix alpha; 0 = off")
    mix_prob: float = opt(1.0, "probability that a batch is mixed at all")
    mix_switch_prob: float = opt(0.5, "with both mixup and CutMix on: probability of CutMix for a mixed batch")
    mixup_off_epochs: int = opt(0, "train the last N epochs without mixup/CutMix")
    teacher: Optional[str] = opt(None, "knowledge distillation: the teacher, a published name (its weights come from "
                                       "the zoo) or a registry name with --teacher-params; several published names "
                                       "joined by commas teach as one ensemble (the mean of their probabilities)")
    teacher_params: Optional[str] = opt(None, "the teacher's weights: a .params file or a version tag (default: its "
                                              "published weights)")
    temperature: float = opt(1.0, "distillation temperature T")
    hard_weight: float = opt(0.5, "distillation: weight of the true-label term; 1 - it weighs T^2 * soft term")
    last_gamma: bool = opt(False, "zero-init the last BN gamma of each residual branch")
    init: str = opt("msra", "weight initialiser: msra (He et al.), xavier, or dirac (msra, then each convolution's "
                            "first min(in, out) filters the identity: a network that starts by passing its input "
                            "through; airbench)", choices=("msra", "xavier", "dirac"))
    whiten_images: int = opt(0, "small data sets: set the first convolution to the whitened principal directions "
                                "of the first N training images' patches (and their negatives), frozen "
                                "(airbench); 0 = off")
    ema_decay: float = opt(0.0, "keep an exponential moving average of the weights with this decay, evaluated "
                                "and checkpointed beside them (e.g. 0.999); 0 = off")
    lookahead_every: int = opt(0, "Lookahead: every N optimizer steps pull the weights toward a slow average and "
                                  "write it back, the pull growing as (step / steps)^3 to lookahead_decay, and end "
                                  "on the average (airbench: 5); 0 = off")
    lookahead_decay: float = opt(0.95 ** 5, "Lookahead: the slow average's decay at the end of training (airbench's "
                                            "0.95^5)")
    bn_bias_lr_mult: float = opt(1.0, "learning-rate multiplier on the BN biases (beta); airbench trains them 64x "
                                      "faster, with the BN scales frozen at 1 (the network's bn_scale: false)")
    tta_flip: bool = opt(False, "evaluate on each image and its mirror image, averaging probabilities")
    tta_shift: int = opt(0, "also evaluate each view moved N pixels up, down, left and right (edges repeated), "
                            "averaging all: 5 forward passes per image, 10 with tta_flip; 0 = off")
    eval_from: int = opt(1, "evaluate on the test set after each epoch from epoch N on (1 = every epoch) and always "
                            "after the last: an evaluation costs time a race to an accuracy can spend training")
    bn_recompute_batches: int = opt(0, "after training, re-estimate BN statistics on N training batches and report "
                                       "both accuracies; 0 = off")
    # precision and devices
    dtype: str = opt("float32", "float16 needs a GPU (dynamic loss scaling, fp32 master weights); bfloat16 needs a "
                                "CPU with avx512_bf16 or AMX (MXNet AMP: conv/FC in bf16, BN on bf16 "
                                "activations with fp32 statistics) and is faster only on some (measured: 1.67x on a Zen 5, "
                                "1.39x on a Zen 4, 1.89x on an AMX Xeon, whose tiles importing gluon_tricks asks for); auto picks float16 "
                                "on GPUs, else bfloat16 where a GEMM probe measures it faster, else float32. Verified "
                                "here on CPU: float32, bfloat16; float16 only in its CPU-testable logic",
                     choices=("float32", "float16", "bfloat16", "auto"))
    loss_scale: float = opt(0.0, "float16 only: static loss scale N; 0 = dynamic (halve on overflow, double after "
                                 "2000 clean steps)")
    gpus: str = opt("", "GPU ids, e.g. 0,1,2,3; empty = CPU (GPU paths are untested here: no GPU)")
    kv_store: str = opt("device", "gradient reduction: device or local (one machine), nccl (GPUs), dist_sync or "
                                  "dist_device_sync (several processes/machines, started by scripts/launch.py; "
                                  "each worker trains on its own slice of every global batch), horovod (started "
                                  "by horovodrun; build it with scripts/install_horovod.sh). dist_async is "
                                  "refused (see docs/training.rst)")
    # run
    hybridize: bool = opt(True, "compile the graph (--mode hybrid) or run op by op (--mode imperative)", flag="-")
    seed: int = opt(0, "seed for weights, data order and augmentation")
    save_dir: str = opt("runs/fashion-mnist", "where the log, plot, recipe and checkpoints go")
    log_interval: int = opt(50, "optimizer steps between log records (and host syncs)")
    save_frequency: int = opt(0, "also keep the weights of every Nth epoch as <model>-<epoch>.params beside the "
                                 "checkpoints (GluonCV's --save-frequency); 0 = off")
    checkpoint_interval: int = opt(0, "also checkpoint every N optimizer steps; 0 = at epoch ends only")

    def validate(self):
        """Reject values that would only fail later, deep inside MXNet."""
        checks = [
            (self.epochs > 0, "epochs must be positive"),
            (self.batch_size > 0, "batch_size must be positive"),
            (self.lr > 0, "lr must be positive"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (0 <= self.warmup_epochs < self.epochs,
             "warmup_epochs (%g) must be in [0, epochs=%d); for a short run pass e.g. --warmup-epochs %g"
             % (self.warmup_epochs, self.epochs, self.epochs / 5)),
            (self.lr_mode in ("cosine", "step", "linear", "poly"), "lr_mode must be cosine, step, linear or poly"),
            (self.init in ("msra", "xavier", "dirac"), "init must be msra, xavier or dirac"),
            (self.log_interval > 0, "log_interval must be positive"),
            (self.tta_shift >= 0, "tta_shift must be >= 0 (0 = off)"),
            (1 <= self.eval_from <= self.epochs, "eval_from must be in [1, epochs=%d]" % self.epochs),
            (self.pad_crop >= 0, "pad_crop must be >= 0"),
            (self.train_samples >= 0 and self.test_samples >= 0, "sample limits must be >= 0"),
            (self.accumulate >= 1, "accumulate must be >= 1"),
            (self.mixup_alpha >= 0 and self.cutmix_alpha >= 0, "mixup/cutmix alpha must be >= 0 (0 = off)"),
            (0 <= self.mix_prob <= 1 and 0 <= self.mix_switch_prob <= 1, "mix probabilities must be in [0, 1]"),
            (0 <= self.mixup_off_epochs <= self.epochs, "mixup_off_epochs must be in [0, epochs]"),
            (self.temperature > 0, "temperature must be positive"),
            (0 <= self.hard_weight <= 1, "hard_weight must be in [0, 1]"),
            (self.teacher or not self.teacher_params, "teacher_params given without a teacher"),
            (len(self.teachers()) < 2 or not self.teacher_params,
             "an ensemble teacher takes published names only, not teacher_params"),
            (self.ema_decay == 0 or 0 < self.ema_decay < 1, "ema_decay must be in (0, 1), or 0 for off"),
            (self.lookahead_every >= 0 and 0 < self.lookahead_decay < 1,
             "lookahead_every must be >= 0 (0 = off) and lookahead_decay in (0, 1)"),
            (self.bn_bias_lr_mult > 0, "bn_bias_lr_mult must be positive"),
            (0 <= self.random_erasing <= 1, "random_erasing is a probability in [0, 1]"),
            (self.cutout >= 0 and self.bn_recompute_batches >= 0, "cutout and bn_recompute_batches must be >= 0"),
            (self.dtype in ("float32", "float16", "bfloat16", "auto"), "dtype must be float32, float16, bfloat16 or auto"),
            (self.loss_scale >= 0, "loss_scale must be >= 0 (0 = dynamic)"),
            (self.checkpoint_interval >= 0 and self.save_frequency >= 0, "checkpoint_interval and save_frequency "
                                                                          "must be >= 0"),
            (all(v >= 8 and v == int(v) for v in self.train_sizes), "train_sizes must be whole numbers >= 8"),
            (self.flip or not self.alternate_flip, "alternate_flip needs flip"),
            (self.dataset != "images" or not self.alternate_flip,
             "alternate_flip works on the small in-memory data sets, not on --dataset images"),
            (self.whiten_images >= 0, "whiten_images must be >= 0 (0 = off)"),
            (self.dataset != "images" or not self.whiten_images,
             "whiten_images works on the small in-memory data sets, not on --dataset images"),
            (self.dataset != "images" or not self.train_sizes,
             "train_sizes (progressive resizing) works on the small in-memory data sets, not on --dataset images"),
            (self.input_size >= 8 and 0 < self.crop_ratio <= 1, "input_size must be >= 8 and crop_ratio in (0, 1]"),
            (self.jitter >= 0 and self.lighting >= 0, "jitter and lighting must be >= 0"),
            (self.num_classes >= 0 and self.data_threads >= 0, "num_classes and data_threads must be >= 0"),
            (self.dataset == "images" or not (self.rec_train or self.rec_val),
             "--rec-train/--rec-val need --dataset images"),
            (bool(self.rec_val) or not self.rec_train, "--rec-train needs --rec-val"),
            (len(self.rgb_mean) in (0, 3) and len(self.rgb_std) in (0, 3) and all(v > 0 for v in self.rgb_std),
             "rgb_mean and rgb_std take three values each (R,G,B on the 0-255 scale; std > 0)"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInput("%s (recipe %s)" % (message, self.short()))
        return self

    def teachers(self):
        """The distillation teacher's names: one, or an ensemble's members."""
        return [name.strip() for name in self.teacher.split(",")] if self.teacher else []

    def network_settings(self):
        """The settings the network is built with: ``model_kwargs``, and zero-gamma where the recipe asks for it."""
        return dict(self.model_kwargs, **({"last_gamma": True} if self.last_gamma else {}))

    def effective_lr(self, workers=1):
        """Linear scaling rule (Goyal et al. 2017) on the batch per optimizer step, when asked."""
        if not self.lr_batch_scale:
            return self.lr
        return self.lr * self.batch_size * self.accumulate * workers / self.lr_batch_scale

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise BadInput("unknown recipe field(s): %s" % ", ".join(unknown))
        values = dict(values)
        for name in ("lr_decay_epochs", "rgb_mean", "rgb_std", "train_sizes"):
            if name in values:
                values[name] = tuple(values[name])
        if "data_backend" in values:
            values["data_backend"] = BACKEND_ALIASES.get(values["data_backend"], values["data_backend"])
        return cls(**values)

    @classmethod
    def load(cls, path):
        """A recipe from a YAML or JSON file. A file may name another with ``base: FILE`` (relative to
        itself) and hold only the fields it changes, so a variant is a few lines, not a copy."""
        return cls.from_dict(cls._file_values(path, ()))

    @classmethod
    def _file_values(cls, path, chain):
        import yaml
        if not os.path.isfile(path):
            raise InputNotFound("recipe file %s does not exist" % path + (
                " (the base of %s)" % chain[-1] if chain else ""))
        if os.path.realpath(path) in map(os.path.realpath, chain):
            raise BadInput("recipe file %s is its own base (%s)" % (path, " -> ".join(chain + (path,))))
        with open(path) as f:
            text = f.read()
        try:
            values = json.loads(text) if path.endswith(".json") else yaml.safe_load(text) or {}
        except (ValueError, yaml.YAMLError) as err:
            raise BadInput("recipe file %s is not valid %s: %s" % (
                path, "JSON" if path.endswith(".json") else "YAML", str(err).splitlines()[0])) from None
        if not isinstance(values, dict):
            raise BadInput("recipe file %s holds no mapping of field: value" % path)
        base = values.pop("base", None)
        if base is None:
            return values
        if not isinstance(base, str):
            raise BadInput("recipe file %s: base must be a file name, not %r" % (path, base))
        return dict(cls._file_values(os.path.join(os.path.dirname(path), base), chain + (path,)), **values)

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
        os.replace(tmp, path)

    def with_epochs(self, epochs):
        """The same recipe over ``epochs``, its schedule's landmarks (warmup, lr steps, mixup's last
        epochs) at the same fractions of training: a shorter proxy of a long run, or a longer one."""
        if self.train_sizes:
            raise BadInput("a progressive-resizing recipe (train_sizes) has no single scale; set its sizes by hand")
        f = epochs / self.epochs
        return dataclasses.replace(self, epochs=epochs, warmup_epochs=round(self.warmup_epochs * f, 4),
                                   lr_decay_epochs=tuple(round(e * f, 4) for e in self.lr_decay_epochs),
                                   mixup_off_epochs=int(round(self.mixup_off_epochs * f))).validate()

    def evaluates(self, epoch):
        """Whether the test set is measured after ``epoch`` (counting from 0)."""
        return epoch + 1 >= self.eval_from  # validate() keeps eval_from <= epochs: the last always

    def short(self):
        return "%s on %s, %d epochs" % (self.model, self.dataset, self.epochs)
