"""Pretrained weights: what is published (:mod:`.catalog`), fetching it safely (:mod:`.store`),
and networks built with it.

The arrows go one way: ``models`` (architectures) -> ``zoo`` (weights) -> ``train``, scripts."""
import os
import tempfile

import mxnet as mx

from ..models import registered_names, construct, builder
from ..models.weights import WeightsMismatch
from ..notice import notice
from .catalog import (Entry, Inputs, add_manifest, entries, entry, imagenet_class_names, published_names,  # noqa: F401
                      remove_manifests, versions)
from .store import ChecksumError, ZooError  # noqa: F401
from .adapt import INITIALIZERS, adapt_input_channels, classifier_size, replace_classifier  # noqa: F401
from .spec import ModelSpec, cache_dir, lookup, weights_file  # noqa: F401
from ..errors import BadInput, reason


def get_model(name, pretrained=False, classes=None, root=None, ctx=None, **settings):
    """A network by registry or published name, like GluonCV's ``get_model``.

    ``pretrained``: False (uninitialised, as GluonCV returns it), True (the default published
    version), a version tag (``'00319ddc'``) or a .params file. ``classes`` other than the
    weights' replaces the classifier with a new one (fine-tuning). ``root``: the weights cache
    (default $MXNET_HOME/models). Settings override the architecture's (``last_gamma=True``).
    With published weights the network carries ``net.classes`` (names) and ``net.inputs`` (size,
    crop ratio, mean/std on the 0-255 scale) of the data it was trained on."""
    spec = lookup(name, pretrained, root)
    if spec.weights is None:
        classes = classes or (spec.inputs.classes if spec.inputs else None)
        return construct(spec.architecture, **dict(spec.settings, **settings,
                                                            **({"classes": classes} if classes else {})))
    ctx = ctx or mx.cpu()
    count = spec.weights_classes
    net = construct(spec.architecture, **dict(spec.settings, **settings, **({"classes": count} if count else {})))
    _load(net, spec.weights, ctx)
    if classes and count and classes != count:
        replace_classifier(net, classes, [ctx])
    same = spec.entry is not None and (not classes or classes == spec.inputs.classes)
    net.classes = list(spec.inputs.class_names) if same else None
    net.inputs = spec.inputs
    return net


def list_models(pattern="*", pretrained=False, built_by=None):
    """Names matching a shell-style pattern: every registry and published name, or with
    ``pretrained=True`` only those with published weights. ``built_by``: only the networks written
    in this package ('gluon_tricks') or only GluonCV's own ('gluoncv')."""
    import fnmatch
    pool = set(published_names()) if pretrained else set(registered_names()) | set(published_names())
    if built_by is not None:
        if built_by not in ("gluon_tricks", "gluoncv"):
            raise BadInput("built_by must be 'gluon_tricks' or 'gluoncv', got %r" % (built_by,))
        pool = {n for n in pool if builder(lookup(n).architecture) == built_by}
    return sorted(n for n in pool if fnmatch.fnmatchcase(n, pattern))


def _load(net, path, ctx):
    """Parameters from ``path``, with a file made for another network named as such, not as
    MXNet's list of missing keys."""
    try:
        net.load_parameters(path, ctx=ctx)
    except (AssertionError, mx.base.MXNetError, WeightsMismatch) as err:
        raise ZooError("%s does not hold this network's parameters: %s" % (path, reason(err))) from None


def ready_network(model, classes, sample, ctxs, init="msra", params=None, finetune=True, **kwargs):
    """A model (a registry or published name, or a :class:`ModelSpec` that already holds its
    weights) on ``ctxs``, initialised or loaded from ``params`` (a file, or published weights: see
    :func:`lookup`), in float32 and not hybridized (the caller's precision policy casts it).
    Weights for another number of classes get a new classifier when ``finetune`` (else they are an
    error: a teacher must fit the data as it is), and a grayscale model's stem is adapted to RGB data
    or the other way round (:func:`adapt_input_channels`)."""
    spec = model if isinstance(model, ModelSpec) else lookup(model, params)
    name, params = spec.name, spec.weights
    file_classes = spec.weights_classes if params else classes
    net = construct(spec.architecture, **dict(spec.settings, **kwargs, classes=file_classes or classes))
    # Shapes by symbolic inference, not a forward pass: an inference-mode pass leaves conv weights
    # in oneDNN's blocked layout, which the dist kvstore then ships with the wrong size.
    try:
        net.infer_shape(sample.as_in_context(ctxs[0]))
    except mx.base.MXNetError as err:  # e.g. GluonCV's ResNeSt fixes its stem at 3 channels; a 28 px image for VGG
        raise BadInput("%s cannot take %s images (channels x height x width): %s" % (
            name, "x".join(map(str, sample.shape[1:])), reason(err, ("inconsistent", "Check failed")))) from None
    net.initialize(INITIALIZERS[init](), ctx=ctxs)
    if params:
        with tempfile.TemporaryDirectory() as folder:
            path, adapted = adapt_input_channels(net, params, folder) if finetune else (params, [])
            if adapted:
                notice("%s: %s adapted from %d to %d input channels" % (
                    os.path.basename(params), ", ".join(adapted), {1: 3, 3: 1}[sample.shape[1]], sample.shape[1]))
            _load(net, path, ctxs)
        if file_classes and file_classes != classes:
            if not finetune:
                raise BadInput("%s classifies %d classes, the data has %d" % (params, file_classes, classes))
            replace_classifier(net, classes, ctxs, init)
    return net
