"""Per-iteration learning rate as a pure function of the iteration, so a resumed run continues exactly."""
import math
from dataclasses import dataclass
from ..errors import BadInput


@dataclass(frozen=True)
class Schedule:
    """Linear warmup from ``warmup_lr`` over ``warmup_iters``, then ``mode`` over the rest.

    cosine: final + (base - final) * (1 + cos(pi * t)) / 2, t in [0, 1] after warmup
    linear: straight line from base to final;  poly: final + (base - final) * (1 - t) ** power
    step:   base * factor ** (number of ``steps`` iterations already passed)
    """
    base_lr: float
    total_iters: int
    warmup_iters: int = 0
    warmup_lr: float = 0.0
    mode: str = "cosine"
    final_lr: float = 0.0
    steps: tuple = ()
    factor: float = 0.1
    power: float = 2.0

    def __call__(self, it):
        if it < self.warmup_iters:
            return self.warmup_lr + (self.base_lr - self.warmup_lr) * it / self.warmup_iters
        span = max(1, self.total_iters - self.warmup_iters)
        t = min(1.0, (it - self.warmup_iters) / span)
        if self.mode == "cosine":
            return self.final_lr + (self.base_lr - self.final_lr) * (1 + math.cos(math.pi * t)) / 2
        if self.mode == "linear":
            return self.base_lr + (self.final_lr - self.base_lr) * t
        if self.mode == "poly":
            return self.final_lr + (self.base_lr - self.final_lr) * (1 - t) ** self.power
        if self.mode == "step":
            return self.base_lr * self.factor ** sum(it >= s for s in self.steps)
        raise BadInput("unknown lr mode %r" % self.mode)

    @classmethod
    def from_recipe(cls, recipe, iters_per_epoch, workers=1):
        """The recipe's schedule; ``workers`` enter the linear lr scaling (the global batch)."""
        return cls(base_lr=recipe.effective_lr(workers), total_iters=recipe.epochs * iters_per_epoch,
                   warmup_iters=int(round(recipe.warmup_epochs * iters_per_epoch)),
                   warmup_lr=recipe.warmup_lr, mode=recipe.lr_mode, final_lr=recipe.final_lr,
                   steps=tuple(int(e * iters_per_epoch) for e in recipe.lr_decay_epochs),
                   factor=recipe.lr_decay)
