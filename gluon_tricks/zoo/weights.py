"""Where a network's weights come from (a file, or a published version: shipped here or fetched
into the cache), and what a weights file says about the classifier it was trained with."""
import dataclasses
import functools
import os
import sys
from typing import Optional

import mxnet as mx
from mxnet import gluon

from ..models import architectures
from ..models.initializers import INITIALIZERS
from ..notice import notice
from . import catalog, store
from ..errors import BadInput, InputNotFound



def cache_dir():
    """$MXNET_HOME/models (default ~/.mxnet/models): the folder GluonCV caches weights in too."""
    return os.path.join(mx.base.data_dir(), "models")


def weights_file(entry, root=None):
    """The verified .params file of a published ``entry``. This project's models come with the
    package (a wheel's gluon_tricks/zoo/published/, a checkout's model_zoo/) and are on no mirror:
    the shipped copy, else a copy put in the cache by hand, else one line on how to restore them.
    GluonCV's come from the cache ``root`` (default $MXNET_HOME/models, which GluonCV shares),
    downloaded when missing (see :mod:`gluon_tricks.zoo.store`)."""
    root = root or cache_dir()
    bundled = entry.bundled
    if bundled:
        if os.path.isfile(bundled) and store.matches(store.sha1_of(bundled), entry.checksum):
            return bundled
        cached = os.path.join(root, store.file_name(entry.name, entry.checksum) + ".params")
        if os.path.isfile(cached) and store.matches(store.sha1_of(cached), entry.checksum):
            return cached
        damage = ("is missing" if not os.path.isfile(bundled) else "has sha1 %s, not the published %s"
                  % (store.sha1_of(bundled), entry.checksum))
        raise store.ZooError(
            "%s %s: the weights of %s, which come with gluon_tricks and are on no mirror, are damaged; restore "
            "them by reinstalling gluon_tricks, or from a source checkout: git checkout -- %s"
            % (bundled, damage, entry.name, os.path.join(entry.source, entry.name + ".params")))
    if not entry.sha1:
        notice("%s version %s: only the first 8 hex digits of its sha1 are published, so only those are checked"
               % (entry.name, entry.tag))
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm
        progress = functools.partial(tqdm, unit="B", unit_scale=True, leave=False)
    return store.fetch(entry.name, entry.checksum, root, progress=progress)


PUBLISHED = ("gluoncv", "zoo", "true")  # "the published weights of the model itself"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What one model name stands for, resolved once (:func:`lookup`): the registry architecture
    and its settings; the published version behind the name or the weights (its inputs and class
    names), or None; and, when weights were asked for, the verified file and its classifier's size."""
    name: str
    architecture: str
    settings: dict
    entry: Optional[catalog.Entry] = None
    weights: Optional[str] = None
    weights_classes: int = 0

    @property
    def inputs(self):
        return self.entry.inputs if self.entry else None


def lookup(name, weights=None, root=None):
    """``name`` (a registry or published name) as a :class:`ModelSpec`. ``weights``: None or False
    (the architecture only); True, 'gluoncv' or 'zoo' for the name's default published version;
    one of its version tags; another published name (``NAME`` or ``NAME:TAG``) of the same
    architecture; or a .params file. Published files come verified from the repository or the
    cache ``root`` (downloaded when missing)."""
    if name in set(architectures()):
        arch, settings, named = name, {}, None
    else:
        named = catalog.entry(name)  # unknown names fail here, with close matches
        arch, settings = named.architecture, dict(named.settings)
    if weights is None or weights is False:
        return ModelSpec(name, arch, settings, named)
    source = str(weights)
    if weights is True or source.lower() in PUBLISHED:
        e = catalog.entry(name)
    elif os.path.isfile(source):
        return ModelSpec(name, arch, settings, None, source, classifier_size(source))
    elif os.sep in source or source.endswith(".params"):
        raise InputNotFound("weights file %s does not exist" % source)
    elif source.split(":")[0] in catalog.names():
        other, _, tag = source.partition(":")
        e = catalog.entry(other, tag or True)
        if (e.architecture, dict(e.settings)) != (arch, settings):
            raise store.ZooError("%s is a %s, not a %s" % (other, e.architecture, arch))
    else:
        try:
            e = catalog.entry(name, source)
        except store.ZooError as err:
            raise store.ZooError("%r is not a weights file, a published name or a version tag (%s)"
                                 % (source, err)) from None
    path = weights_file(e, root)
    return ModelSpec(name, arch, settings, e, path, classifier_size(path))


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
