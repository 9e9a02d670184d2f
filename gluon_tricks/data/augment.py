"""Augmentation: the paper's per-image transforms (random-resized crop, flip, colour jitter, PCA
lighting, normalisation; OpenCV, run in the loader's threads) and the batch transforms that act on
any source's normalised batches (cutout, random erasing)."""
import math

import numpy as np
from ..errors import BadInput

IMAGENET_MEAN = (123.68, 116.779, 103.939)  # RGB, 0-255
IMAGENET_STD = (58.393, 57.12, 57.375)
# AlexNet's PCA of ImageNet RGB pixels (0-1 scale), used by the lighting noise.
EIGVAL = (0.2175, 0.0188, 0.0045)
EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))


class Augment:
    """The paper's augmentation settings (Section 2.1) and the validation transform."""

    def __init__(self, size=224, crop_ratio=0.875, area=(0.08, 1.0), ratio=(3 / 4, 4 / 3), flip=True,
                 jitter=0.4, lighting=0.1, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        if not 0 < crop_ratio <= 1:
            raise BadInput("crop_ratio must be in (0, 1], got %r" % crop_ratio)
        if not 0 < area[0] <= area[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise BadInput("bad crop area %r or aspect ratio %r" % (area, ratio))
        self.size, self.crop_ratio, self.area, self.ratio, self.flip = size, crop_ratio, area, ratio, flip
        self.jitter, self.lighting, self.mean, self.std = jitter, lighting, mean, std

    @property
    def val_resize(self):
        """Shorter side before the centre crop: 256 for 224 at the usual 0.875."""
        return int(math.ceil(self.size / self.crop_ratio))


LUMA = (0.299, 0.587, 0.114)  # RGB weights of gray, summing to 1
_TO_GRAY = {False: np.outer(np.ones(3), LUMA), True: np.outer(np.ones(3), LUMA[::-1])}  # rows: w^T (RGB, BGR)


def jitter_image(img, rng, jitter, bgr=False):
    """HxWx3 uint8 RGB (or BGR) with brightness, contrast and saturation jitter (factors b, c, s
    uniform in [1 - j, 1 + j], applied in that order), clipped to 0..255.

    The three compose to one affine colour map, x -> c b S x + (1 - c) b (w . mean(x)) 1 with
    S = s I + (1 - s) 1 w^T (w: luma weights), so it is one cv2.transform pass per image, done in
    the loader's threads (OpenCV releases the GIL)."""
    import cv2
    b, c, s = rng.uniform(1 - jitter, 1 + jitter, 3)
    to_gray = _TO_GRAY[bgr]
    m = np.empty((3, 4), np.float32)
    m[:, :3] = c * b * (1 - s) * to_gray
    m[[0, 1, 2], [0, 1, 2]] += c * b * s
    # Mean gray through OpenCV's gray conversion (same weights): 18 us against 38 for cv2.mean's
    # three channels, and within 1e-4 of it.
    mean_gray = cv2.mean(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY))[0]
    m[:, 3] = (1 - c) * b * mean_gray
    return cv2.transform(img, m)


def lighting_shift(rng, lighting):
    """AlexNet-style PCA lighting noise: the RGB offset (0-255 scale) one image gets,
    255 * eigvec @ (alpha * eigval) with alpha ~ N(0, lighting)."""
    alpha = rng.normal(0, lighting, 3) * np.asarray(EIGVAL)
    return 255 * np.asarray(EIGVEC) @ alpha


def normalise_into(img, out, mean, std, shift=(0.0, 0.0, 0.0), bgr=False):
    """HxWx3 uint8 -> ``out`` (3xHxW float32) = (x + shift - mean) / std per RGB channel.

    Per channel the map is a function of one byte, so it is a 256-entry table (cv2.LUT): one
    lookup pass per plane, exact, half the time of a multiply-add pass (measured 69 vs 124 us
    for 224x224)."""
    import cv2
    levels = np.arange(256, dtype=np.float32)
    planes = cv2.split(img)
    for c, plane in enumerate(planes[::-1] if bgr else planes):
        cv2.LUT(plane, (levels + np.float32(shift[c] - mean[c])) / np.float32(std[c]), dst=out[c])
    return out


def random_resized_crop_box(rng, height, width, area, ratio, attempts=10):
    """(y, x, h, w) of a crop covering a random fraction ``area`` of the image with a log-uniform
    aspect ratio in ``ratio``; after ``attempts`` misses, the largest centred crop within ``ratio``."""
    for _ in range(attempts):
        target = rng.uniform(*area) * height * width
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif aspect > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def resize_and_flip(crop, augment, rng):
    """A crop -> size x size, mirrored half of the time (the training transform after the crop)."""
    import cv2
    out = cv2.resize(crop, (augment.size, augment.size), interpolation=cv2.INTER_LINEAR)
    if augment.flip and rng.random() < 0.5:
        out = cv2.flip(out, 1)  # 5 us; NumPy's copy of a reversed view took 200 us
    return out


def transform_image(img, augment, rng, train):
    """HxWx3 uint8 -> size x size x 3 uint8: random-resized crop + flip, or resize + centre crop."""
    import cv2
    size = augment.size
    h, w = img.shape[:2]
    if train:
        y, x, ch, cw = random_resized_crop_box(rng, h, w, augment.area, augment.ratio)
        return resize_and_flip(img[y:y + ch, x:x + cw], augment, rng)
    scale = augment.val_resize / min(h, w)
    nh, nw = max(size, int(round(h * scale))), max(size, int(round(w * scale)))
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y, x = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(img[y:y + size, x:x + size])


def cutout(x, size, rng):
    """Zero a size x size square (clipped at the border) centred anywhere in each image, in place."""
    b, _, h, w = x.shape
    cy, cx = rng.integers(0, h, b), rng.integers(0, w, b)
    rows, cols = np.arange(h), np.arange(w)
    inside_r = (rows[None] >= (cy - size // 2)[:, None]) & (rows[None] < (cy - size // 2 + size)[:, None])
    inside_c = (cols[None] >= (cx - size // 2)[:, None]) & (cols[None] < (cx - size // 2 + size)[:, None])
    x *= ~(inside_r[:, :, None] & inside_c[:, None, :])[:, None]
    return x


def random_erase(x, prob, rng, area=(0.02, 1 / 3), aspect=(0.3, 1 / 0.3)):
    """With probability ``prob`` per image, replace a random rectangle by N(0, 1) noise, in place."""
    b, c, h, w = x.shape
    for i in np.flatnonzero(rng.random(b) < prob):
        for _ in range(10):  # a box that fits, as in Zhong et al.'s algorithm
            target = rng.uniform(*area) * h * w
            ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
            eh, ew = int(round(np.sqrt(target * ratio))), int(round(np.sqrt(target / ratio)))
            if 0 < eh < h and 0 < ew < w:
                y0, x0 = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
                x[i, :, y0:y0 + eh, x0:x0 + ew] = rng.standard_normal((c, eh, ew))
                break
    return x


class BatchErasing:
    """Cutout (DeVries & Taylor 2017; Myrtle's CIFAR recipe: an NxN square of zeros, the mean
    after normalisation) and random erasing (Zhong et al. 2020: a random box of N(0, 1) noise
    with probability ``erase_prob`` per image) on a normalised float32 NCHW NumPy batch, in
    place. Works on any source's batches; randomness from the ``rng`` the source passes."""

    def __init__(self, cutout_size=0, erase_prob=0.0):
        self.cutout_size, self.erase_prob = cutout_size, erase_prob

    def __bool__(self):
        return bool(self.cutout_size or self.erase_prob)

    def __call__(self, x, rng):
        if self.cutout_size:
            cutout(x, self.cutout_size, rng)
        if self.erase_prob:
            random_erase(x, self.erase_prob, rng)
        return x


class TransformedSource:
    """A batch source whose training batches pass through ``transform(x, rng)`` (NumPy, in
    place); the rng depends on (seed, epoch, batch, worker) only, so resumed runs match."""

    def __init__(self, source, transform, seed=0, part_index=0):
        self.source, self.transform, self.seed, self.part_index = source, transform, seed, part_index

    def __len__(self):
        return len(self.source)

    def __getattr__(self, name):  # data_shape, skipped, labels, ... of the source
        return getattr(self.source, name)

    def epoch(self, epoch=0, start=0):
        import mxnet as mx
        for b, (x, y) in enumerate(self.source.epoch(epoch, start), start):
            batch = x.asnumpy()
            self.transform(batch, np.random.default_rng((self.seed, epoch, b, 3, self.part_index)))
            yield mx.nd.array(batch, ctx=x.context), y
