"""One typed recipe: every field is one setting of a run, and a recipe file is this dict."""
import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Recipe:
    # model
    model: str = "cifar_resnet20_v1b"
    model_kwargs: dict = field(default_factory=dict)  # e.g. {"stem": "deep", "down": "avg"}
    # data
    dataset: str = "fashion-mnist"
    data_dir: Optional[str] = None
    batch_size: int = 128              # per step, all devices together
    pad_crop: int = 2                  # random crop after padding by this many pixels; 0 = off
    flip: bool = True                  # random horizontal flip
    train_samples: int = 0             # >0: train on a fixed random subset of this size (quick runs)
    test_samples: int = 0              # >0: evaluate on the first N test images only
    # optimisation (Bag of Tricks baseline, section 3 + 5)
    epochs: int = 15
    optimizer: str = "nag"
    lr: float = 0.1                    # at batch_size; see lr_batch_scale
    lr_batch_scale: int = 0            # >0: lr = lr * batch_size / lr_batch_scale (the paper uses 256)
    lr_mode: str = "cosine"            # cosine | step | linear | poly
    warmup_epochs: float = 1.0
    warmup_lr: float = 0.0
    final_lr: float = 0.0
    lr_decay_epochs: tuple = ()        # step mode only
    lr_decay: float = 0.1              # step mode only
    momentum: float = 0.9
    wd: float = 5e-4
    no_wd: bool = True                 # no weight decay on BN gamma/beta and biases
    label_smoothing: float = 0.1       # epsilon; 0 = plain cross-entropy
    init: str = "msra"                 # msra | xavier
    # run
    hybridize: bool = True
    seed: int = 0
    save_dir: str = "runs/fashion-mnist"
    log_interval: int = 50             # iterations between log records (and host syncs)

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
            (self.init in ("msra", "xavier"), "init must be msra or xavier"),
            (self.log_interval > 0, "log_interval must be positive"),
            (self.pad_crop >= 0, "pad_crop must be >= 0"),
            (self.train_samples >= 0 and self.test_samples >= 0, "sample limits must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError("%s (recipe %s)" % (message, self.short()))
        return self

    def effective_lr(self):
        return self.lr * self.batch_size / self.lr_batch_scale if self.lr_batch_scale else self.lr

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError("unknown recipe field(s): %s" % ", ".join(unknown))
        values = dict(values)
        if "lr_decay_epochs" in values:
            values["lr_decay_epochs"] = tuple(values["lr_decay_epochs"])
        return cls(**values)

    @classmethod
    def load(cls, path):
        """A recipe from a YAML or JSON file."""
        with open(path) as f:
            text = f.read()
        if path.endswith(".json"):
            values = json.loads(text)
        else:
            import yaml
            values = yaml.safe_load(text) or {}
        return cls.from_dict(values)

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
        os.replace(tmp, path)

    def short(self):
        return "%s on %s, %d epochs" % (self.model, self.dataset, self.epochs)
