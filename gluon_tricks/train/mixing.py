"""Mixup and CutMix as a batch transform: images are blended, targets become dense and blended too.

Targets are already (smoothed) probability vectors when they arrive here, so label smoothing,
mixup and CutMix compose into one soft target and one loss (timm's design)."""
from dataclasses import dataclass

import numpy as np


@dataclass
class Mixer:
    """Per batch: with probability ``prob`` mix; then CutMix with probability ``switch_prob``
    (when both alphas are set), else mixup. ``lam`` ~ Beta(alpha, alpha)."""
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    prob: float = 1.0
    switch_prob: float = 0.5

    @property
    def enabled(self):
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0

    def __call__(self, x, target, rng):
        """(mixed images, mixed targets, lam, kind). ``rng`` is a numpy Generator (seeded per epoch)."""
        if not self.enabled or rng.random() >= self.prob:
            return x, target, 1.0, "none"
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha <= 0 or rng.random() < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        lam = float(rng.beta(alpha, alpha))
        perm = rng.permutation(x.shape[0])
        if use_cutmix:
            x, lam = cutmix(x, perm, lam, rng)
            return x, blend(target, perm, lam), lam, "cutmix"
        return blend(x, perm, lam), blend(target, perm, lam), lam, "mixup"


def blend(array, perm, lam):
    """lam * a + (1 - lam) * a[perm] (Zhang et al. 2018, mixup)."""
    import mxnet as mx
    other = array.take(mx.nd.array(perm, ctx=array.context), axis=0)
    return lam * array + (1 - lam) * other


def cutmix_box(height, width, lam, rng):
    """A box of area (1 - lam) centred uniformly at random, clipped to the image (Yun et al. 2019)."""
    ratio = np.sqrt(1.0 - lam)
    bh, bw = int(height * ratio), int(width * ratio)
    cy, cx = rng.integers(0, height), rng.integers(0, width)
    y0, y1 = np.clip(cy - bh // 2, 0, height), np.clip(cy + bh // 2, 0, height)
    x0, x1 = np.clip(cx - bw // 2, 0, width), np.clip(cx + bw // 2, 0, width)
    return int(y0), int(y1), int(x0), int(x1)


def cutmix(x, perm, lam, rng):
    """Paste a box of the permuted batch into each image; lam becomes the kept area fraction."""
    import mxnet as mx
    _, _, h, w = x.shape
    y0, y1, x0, x1 = cutmix_box(h, w, lam, rng)
    mask = np.ones((1, 1, h, w), np.float32)
    mask[..., y0:y1, x0:x1] = 0.0
    keep = mx.nd.array(mask, ctx=x.context, dtype=x.dtype)
    other = x.take(mx.nd.array(perm, ctx=x.context), axis=0)
    mixed = mx.nd.broadcast_mul(x, keep) + mx.nd.broadcast_mul(other, 1 - keep)
    return mixed, 1.0 - (y1 - y0) * (x1 - x0) / float(h * w)
