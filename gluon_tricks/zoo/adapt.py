"""Fitting loaded weights to a new task: the classifier size a weights file holds, a new classifier
for another number of classes, and a first convolution for other input channels."""
import os

import mxnet as mx
from mxnet import gluon

from ..errors import BadInput
from ..models.initializers import INITIALIZERS


# Where each family keeps its classifier (a Dense, or a 1x1 conv in MobileNetV2/V3 and SqueezeNet).
CLASSIFIERS = ("fc", "output", "output.0", "classifier", "out.3")


def classifier_size(path):
    """Classes of the classifier in a .params file (the weight of one of :data:`CLASSIFIERS`), or 0."""
    try:
        loaded = mx.nd.load(path)
    except mx.base.MXNetError as err:
        raise BadInput("cannot read %s as an MXNet parameter file: %s" % (path, str(err).splitlines()[0])) from None
    heads = [loaded[k + ".weight"] for k in CLASSIFIERS if k + ".weight" in loaded] if isinstance(loaded, dict) else []
    return heads[0].shape[0] if heads else 0


def _classifier(net):
    """(parent block, child key, layer) of ``net``'s classifier."""
    for path in CLASSIFIERS:
        parent, keys = net, path.split(".")
        for key in keys[:-1]:
            parent = parent._children.get(key)
            if parent is None:
                break
        layer = parent._children.get(keys[-1]) if parent is not None else None
        if isinstance(layer, (gluon.nn.Dense, gluon.nn.Conv2D)):
            return parent, keys[-1], layer
    raise BadInput("%s has no classifier named %s" % (type(net).__name__, " or ".join(CLASSIFIERS)))


def adapt_input_channels(net, path, folder):
    """``path`` itself, or a copy in ``folder`` whose first convolution takes the input channels
    ``net`` was built for: a grayscale model's 1 channel repeated over RGB and divided by 3, an RGB
    model's 3 channels summed into 1. Either way a gray image gives the same features as before
    (as replicated RGB, or as the channels' sum), so fine-tuning starts where the weights were
    trained (timm adapts pretrained stems this way). Returns (path, names of adapted weights)."""
    loaded = mx.nd.load(path)
    if not isinstance(loaded, dict):
        return path, []
    params = net._collect_params_with_prefix()
    adapted = []
    for name, value in loaded.items():
        have = params[name].shape if name in params else None
        if not have or value.ndim != 4 or len(have) != 4 or tuple(have) == value.shape:
            continue
        if (have[0], have[2], have[3]) != (value.shape[0], value.shape[2], value.shape[3]):
            continue
        if (value.shape[1], have[1]) == (1, 3):
            loaded[name] = value.repeat(3, axis=1) / 3
        elif (value.shape[1], have[1]) == (3, 1):
            loaded[name] = value.sum(axis=1, keepdims=True)
        else:
            continue
        adapted.append(name)
    if not adapted:
        return path, []
    copy = os.path.join(folder, "adapted.params")
    mx.nd.save(copy, loaded)
    return copy, adapted


def replace_classifier(net, classes, ctxs, init="msra"):
    """A new, freshly initialised classifier for ``classes`` on top of loaded features, of the old one's kind."""
    parent, key, old = _classifier(net)
    with parent.name_scope():
        if isinstance(old, gluon.nn.Dense):
            new = gluon.nn.Dense(classes, in_units=old.weight.shape[1], use_bias=old.bias is not None)
        else:
            new = gluon.nn.Conv2D(classes, old._kwargs["kernel"], in_channels=old.weight.shape[1],
                                  use_bias=old.bias is not None)
    if key.isdigit():  # a Sequential's child
        parent.register_child(new, key)
    else:
        setattr(parent, key, new)
    new.initialize(INITIALIZERS[init](), ctx=ctxs)
    net._clear_cached_op()
