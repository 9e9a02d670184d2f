"""Where a network's weights come from: a file, or GluonCV's published weights; and what a
weights file says about the classifier it was trained with."""
import os

import mxnet as mx
from mxnet import gluon

INITIALIZERS = {
    "msra": lambda: mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),  # He et al. 2015
    "xavier": lambda: mx.init.Xavier(),
}


def cache_dir():
    """$MXNET_HOME/models (default ~/.mxnet/models): the folder GluonCV caches weights in too."""
    return os.path.join(mx.base.data_dir(), "models")


def pretrained_file(name, source):
    """The .params file ``source`` names: a path, or 'gluoncv' for GluonCV's published weights of
    ``name`` (its model store: the cache under $MXNET_HOME/models, downloaded when missing)."""
    if source != "gluoncv":
        if not os.path.isfile(source):
            raise FileNotFoundError("weights file %s does not exist" % source)
        return source
    from gluoncv.model_zoo.model_store import get_model_file
    try:
        return get_model_file(name, root=cache_dir())
    except ValueError:
        raise ValueError("GluonCV publishes no weights for %r; pass a .params file instead" % name) from None
    except OSError as err:
        raise ValueError("GluonCV's weights for %r are not cached and could not be downloaded (%s); put the "
                         "file in %s or pass it as a path" % (name, err, cache_dir())) from None


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
