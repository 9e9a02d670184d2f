"""Pretrained weights: where they come from, and registry networks built with them.

The arrows go one way: ``models`` (architectures) -> ``zoo`` (weights) -> ``train``, scripts."""
from ..models import get_model
from .store import ChecksumError, ZooError  # noqa: F401
from .weights import (INITIALIZERS, cache_dir, classifier_size, manifest, pretrained_file, published,  # noqa: F401
                      replace_classifier)


def build_net(name, classes, sample, ctxs, init="msra", params=None, finetune=True, **kwargs):
    """A registry model on ``ctxs``, initialised or loaded from ``params`` (a file, or 'gluoncv'),
    in float32 and not hybridized (the caller's precision policy casts it). Weights for another
    number of classes get a new classifier when ``finetune`` (else they are an error: a teacher
    must fit the data as it is)."""
    params = pretrained_file(name, params) if params else None
    file_classes = classifier_size(params) if params else classes
    net = get_model(name, classes=file_classes or classes, **kwargs)
    # Shapes by symbolic inference, not a forward pass: an inference-mode pass leaves conv weights
    # in oneDNN's blocked layout, which the dist kvstore then ships with the wrong size.
    net.infer_shape(sample.as_in_context(ctxs[0]))
    net.initialize(INITIALIZERS[init](), ctx=ctxs)
    if params:
        net.load_parameters(params, ctx=ctxs)
        if file_classes and file_classes != classes:
            if not finetune:
                raise ValueError("%s classifies %d classes, the data has %d" % (params, file_classes, classes))
            replace_classifier(net, classes, ctxs, init)
    return net
