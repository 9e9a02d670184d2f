"""Where a network's weights come from: a file, or GluonCV's published weights; and what a
weights file says about the classifier it was trained with."""
import functools
import json
import os
import sys

import mxnet as mx
from mxnet import gluon

from . import store

INITIALIZERS = {
    "msra": lambda: mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),  # He et al. 2015
    "xavier": lambda: mx.init.Xavier(),
}


def cache_dir():
    """$MXNET_HOME/models (default ~/.mxnet/models): the folder GluonCV caches weights in too."""
    return os.path.join(mx.base.data_dir(), "models")


@functools.lru_cache(maxsize=None)
def manifest():
    """Published weights by registry name (``manifest.json`` in this package)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifest.json")) as f:
        return {entry["name"]: entry for entry in json.load(f)["models"]}


def published(name):
    """The manifest entry of ``name``; a ZooError naming the models that have weights otherwise."""
    if name not in manifest():
        raise store.ZooError("no published weights for %r; these have them: %s" % (name, ", ".join(sorted(manifest()))))
    return manifest()[name]


def pretrained_file(name, source, root=None):
    """The .params file ``source`` names: a path, or 'gluoncv' for GluonCV's published weights of
    ``name``: from the cache ``root`` (default $MXNET_HOME/models, which GluonCV shares), checked
    against the full sha1, else downloaded (see :mod:`gluon_tricks.zoo.store`)."""
    if source != "gluoncv":
        if not os.path.isfile(source):
            raise FileNotFoundError("weights file %s does not exist" % source)
        return source
    entry = published(name)
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm
        progress = functools.partial(tqdm, unit="B", unit_scale=True, leave=False)
    return store.fetch(name, entry["sha1"], root or cache_dir(), progress=progress)


def classifier_size(path):
    """Classes of the classifier in a .params file (its last 2-D weight: ``fc``/``output``), or 0."""
    try:
        loaded = mx.nd.load(path)
    except mx.base.MXNetError as err:
        raise ValueError("cannot read %s as an MXNet parameter file: %s" % (path, str(err).splitlines()[0])) from None
    heads = [v for k, v in loaded.items() if k.endswith(("fc.weight", "output.weight")) and v.ndim == 2] \
        if isinstance(loaded, dict) else []
    return heads[-1].shape[0] if heads else 0


def replace_classifier(net, classes, ctxs, init="msra"):
    """A new, freshly initialised classifier for ``classes`` on top of loaded features."""
    attr = "fc" if isinstance(getattr(net, "fc", None), gluon.nn.Dense) else "output"
    old = getattr(net, attr)
    with net.name_scope():
        new = gluon.nn.Dense(classes, in_units=old.weight.shape[1])
    setattr(net, attr, new)
    new.initialize(INITIALIZERS[init](), ctx=ctxs)
