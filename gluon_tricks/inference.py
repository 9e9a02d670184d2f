"""A trained network ready for inference: weights from a training run or a registry model,
images preprocessed exactly as validation does, class names attached."""
import json
import os

import mxnet as mx
import numpy as np

from .data import DATASETS
from .data.augment import transform_image
from .data.loaders import augment
from .models import inference_graph
from .train.checkpoint import Checkpoints
from .train.config import Recipe
from .zoo import ready_network, imagenet_class_names, lookup
from .errors import BadInput, InputNotFound


# The recipe fields inference needs: an exported network's JSON carries them.
INPUT_FIELDS = ("model", "dataset", "input_size", "crop_ratio", "rgb_mean", "rgb_std")


class Predictor:
    """``net`` + the ``recipe`` its inputs follow + ``classes`` (names); ``dtype`` 'int8' for a
    quantized network (its inputs stay float32), whose ``calibration`` images are kept for checks."""

    def __init__(self, net, recipe, classes, ctx, dtype="float32"):
        self.net, self.recipe, self.classes, self.ctx, self.dtype = net, recipe, list(classes), ctx, dtype
        self.calibration = None

    @classmethod
    def from_run(cls, run_dir, params=None, ctx=None):
        """The network of a training run (its ``recipe.json``): ``best.params``, else the newest
        checkpoint's weights, or ``params``."""
        recipe_file = os.path.join(run_dir, "recipe.json")
        if not os.path.isfile(recipe_file):
            raise InputNotFound("%s is not a training run directory (no recipe.json)" % run_dir)
        recipe = Recipe.load(recipe_file)
        if params is None:
            params = os.path.join(run_dir, "best.params")
            if not os.path.isfile(params):
                latest = Checkpoints(run_dir).latest()
                if latest is None:
                    raise InputNotFound("%s has no best.params and no checkpoint" % run_dir)
                params = os.path.join(latest[0], "model.params")
        names = None
        if os.path.isfile(os.path.join(run_dir, "classes.json")):
            with open(os.path.join(run_dir, "classes.json")) as f:
                names = json.load(f)
        return cls.from_model(recipe.model, params, names, recipe=recipe, ctx=ctx)

    @classmethod
    def from_model(cls, model, params, classes=None, recipe=None, input_size=None, crop_ratio=None, ctx=None):
        """A registry or published model with ``params``: a file, or published weights (True,
        'gluoncv', a tag, a published name; see :func:`gluon_tricks.zoo.lookup`), whose inputs
        and class names then come from the zoo. ``classes``: a list of names, a JSON file of one,
        or None (the weights' own, ImageNet's for 1000 classes, else "class i")."""
        ctx = ctx or mx.cpu()
        spec = lookup(model, params)
        recipe = recipe or recipe_for(spec.architecture, spec.entry, input_size, crop_ratio)
        count = spec.weights_classes
        if not count:
            raise BadInput("%s has no classifier weights (fc/output) to take the class count from" % spec.weights)
        if classes is None and spec.entry is not None and spec.inputs.classes == count:
            classes = list(spec.inputs.class_names)
        sample = mx.nd.zeros((1,) + input_shape(recipe))
        kwargs = recipe.network_settings()
        if kwargs.get("fused_bn_relu"):
            kwargs["fused_bn_relu"] = False  # the same weights; oneDNN fuses Conv + BN + ReLU only from the pair
        net = inference_graph(ready_network(spec, count, sample, [ctx], **kwargs))
        return cls(hybridize_fused(net, ctx), recipe, class_names(classes, count), ctx)

    @classmethod
    def from_exported(cls, prefix, ctx=None):
        """The files :func:`gluon_tricks.export.export` wrote (float32 or int8): PREFIX-symbol.json,
        PREFIX-0000.params and PREFIX.json (inputs and class names)."""
        from .quantize import load
        meta_file = prefix + ".json"
        if not os.path.isfile(meta_file):
            raise InputNotFound("%s is missing: name the PREFIX export.py wrote (PREFIX.json, PREFIX-symbol.json, "
                                "PREFIX-0000.params)" % meta_file)
        with open(meta_file) as f:
            meta = json.load(f)
        if "inputs" not in meta:
            raise BadInput("%s was written by an older export.py (no 'inputs'): export the network again" % meta_file)
        ctx = ctx or mx.cpu()
        dtype = meta.get("dtype", "float32")
        net = load(prefix, ctx)
        net = hybridize_fused(net, ctx) if dtype == "float32" else net  # int8 graphs come fused already
        return cls(net, Recipe.from_dict(meta["inputs"]), meta["classes"], ctx, dtype)

    def quantized(self, images, mode="naive", exclude=()):
        """An int8 copy (MXNet's oneDNN quantization; see :mod:`gluon_tricks.quantize`), calibrated on
        ``images`` (normalised, N x C x H x W)."""
        from .quantize import check_int8, quantize_net
        check_int8(self.ctx)
        qnet = quantize_net(self.net, input_shape(self.recipe), images, mode, exclude, ctx=self.ctx)
        hybridize_fused(self.net, self.ctx)  # MXNet's quantizer re-hybridized it plainly
        quantized = Predictor(qnet, self.recipe, self.classes, self.ctx, "int8")
        quantized.calibration = images
        return quantized

    def inputs(self):
        """The recipe fields that say how inputs are made (what an exported network carries)."""
        return {k: getattr(self.recipe, k) for k in INPUT_FIELDS}

    def preprocess(self, path):
        """An image file -> a normalised (1, C, H, W) batch, as the validation pipeline makes it."""
        import cv2
        with open(path, "rb") as f:
            buf = np.frombuffer(f.read(), np.uint8)
        channels, size, _ = input_shape(self.recipe)
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
        if img is None:
            raise BadInput("%s is not a decodable image" % path)
        mean, std, _ = normalisation(self.recipe)
        if self.recipe.dataset in DATASETS:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
            img = img if channels == 1 else img[:, :, ::-1]  # OpenCV's BGR -> RGB
        else:
            img = transform_image(img[:, :, ::-1], augment(self.recipe), None, train=False)
        img = img.reshape(size, size, channels).astype(np.float32)
        x = (img - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        return mx.nd.array(x.transpose(2, 0, 1)[None], ctx=self.ctx)

    def probabilities(self, paths):
        """Softmax outputs, one row per image file."""
        return np.concatenate([mx.nd.softmax(self.net(self.preprocess(p))).asnumpy() for p in paths])

    def top(self, paths, k=5):
        """For each image: [(class name, probability)] of its ``k`` most probable classes."""
        out = []
        for row in self.probabilities(paths):
            best = np.argsort(-row)[:k]
            out.append([(self.classes[i], float(row[i])) for i in best])
        return out


def hybridize_fused(net, ctx, fuse=True):
    """Hybridize ``net`` for inference through oneDNN's graph fusions when this MXNet has them (CPU):
    each convolution runs with its BN folded in and its ReLU and residual addition fused, the same
    numbers to float rounding (1.2-1.7x faster at batch 1, docs/results/precision.rst). A graph exported from
    it would carry oneDNN-only operators, so :func:`gluon_tricks.export.export` traces it plainly.
    The folded weights are computed on the first call and kept: parameters changed afterwards are
    not seen until the graph is hybridized again (our ``load_parameters`` does that; a trainer's
    updates would not, so training evaluates with the plain graph). Returns ``net``."""
    fuse = fuse and ctx.device_type == "cpu" and mx.runtime.Features().is_enabled("MKLDNN")
    net.hybridize(backend="MKLDNN" if fuse else None, static_alloc=True, static_shape=True)
    return net


def recipe_for(model, entry=None, input_size=None, crop_ratio=None):
    """The validation inputs of published weights (``entry``), or ImageNet's (224 px, crop 0.875)."""
    if entry is not None and entry.inputs.dataset:
        return Recipe(model=model, dataset=entry.inputs.dataset)
    inputs = dict(rgb_mean=entry.inputs.mean, rgb_std=entry.inputs.std, input_size=entry.inputs.input_size,
                  crop_ratio=entry.inputs.crop_ratio) if entry is not None else {}
    inputs.update({k: v for k, v in (("input_size", input_size), ("crop_ratio", crop_ratio)) if v})
    return Recipe(model=model, dataset="images", **inputs)


def input_shape(recipe):
    """(C, H, W) of the network input a recipe trains on."""
    if recipe.dataset in DATASETS:
        return DATASETS[recipe.dataset].input_shape
    return (3, recipe.input_size, recipe.input_size)


def normalisation(recipe):
    """(mean, std, shorter side before the centre crop) of a recipe's inputs, on 0-255 RGB."""
    if recipe.dataset in DATASETS:
        info = DATASETS[recipe.dataset]
        return info.mean, info.std, info.size
    a = augment(recipe)
    return a.mean, a.std, a.val_resize


def class_names(classes, count):
    """Names for ``count`` classes from a list, a JSON file (a list, or pack.py's {"classes": [...]}),
    ImageNet's when there are 1000, else "class i"."""
    if isinstance(classes, str):
        with open(classes) as f:
            classes = json.load(f)
        classes = classes["classes"] if isinstance(classes, dict) else classes
    if classes is None and count == 1000:
        classes = imagenet_class_names()
    if classes is None:
        classes = ["class %d" % i for i in range(count)]
    if len(classes) != count:
        raise BadInput("%d class names for a classifier of %d classes" % (len(classes), count))
    return list(classes)
