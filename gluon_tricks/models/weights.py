"""Loading parameter files by structural name, with errors that name what does not fit."""
import os

import mxnet as mx
from ..errors import BadInput, InputNotFound


class WeightsMismatch(BadInput):
    """A parameter file does not fit the network it is loaded into."""


def _listing(names, limit=8):
    names = sorted(names)
    more = " ... (%d more)" % (len(names) - limit) if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def load_params(net, source, ctx=None, allow_missing=False, ignore_extra=False,
                cast_dtype=False, dtype_source="current", rename=None):
    """Load a ``.params`` file (or a name->NDArray dict) into ``net``.

    ``rename`` maps file names onto ``net``'s structural names, which is how files in another
    model's layout (GluonCV's ``features.N`` ResNets) load without conversion on disk.
    """
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise InputNotFound("parameter file not found: %s" % source)
        try:
            loaded = mx.nd.load(str(source))
        except mx.base.MXNetError as err:
            raise WeightsMismatch("cannot read %s as an MXNet parameter file (truncated or not a "
                                  ".params file?): %s" % (source, str(err).splitlines()[0])) from None
    else:
        loaded = dict(source)
    if not isinstance(loaded, dict):
        raise WeightsMismatch("%s holds a list of arrays, not named parameters" % (source,))
    if rename is not None:
        loaded = {rename(k): v for k, v in loaded.items()}
    # Files written by Block.save_params (MXNet < 1.3) carry prefixed names without dots.
    if loaded and not any("." in k for k in loaded):
        net.collect_params().load(str(source), ctx, allow_missing, ignore_extra, net.prefix,
                                  cast_dtype=cast_dtype, dtype_source=dtype_source)
        return _retrace(net)
    params = net._collect_params_with_prefix()  # structural names, as save_parameters writes them
    missing = set(params) - set(loaded)
    extra = set(loaded) - set(params)
    where = source if isinstance(source, str) else "the given parameters"
    if missing and not allow_missing:
        raise WeightsMismatch("%s lacks %d parameter(s) of %s: %s" % (
            where, len(missing), type(net).__name__, _listing(missing)))
    if extra and not ignore_extra:
        raise WeightsMismatch("%s has %d parameter(s) that %s does not: %s" % (
            where, len(extra), type(net).__name__, _listing(extra)))
    wrong = []
    for name in set(params) & set(loaded):
        have = params[name].shape
        got = loaded[name].shape
        if have and all(have) and tuple(have) != tuple(got):
            wrong.append("%s: network %s, file %s" % (name, tuple(have), tuple(got)))
    if wrong:
        raise WeightsMismatch("%s does not fit (different classes or architecture?): %s" % (
            where, _listing(wrong, limit=4)))
    for name in set(params) & set(loaded):
        params[name]._load_init(loaded[name], ctx, cast_dtype=cast_dtype, dtype_source=dtype_source)
    _retrace(net)


def _retrace(net):
    """Drop ``net``'s compiled graphs. A graph fused by oneDNN's subgraph backend (inference's
    :func:`~gluon_tricks.inference.hybridize_fused`) folds BN into the convolution weights once, on
    its first call, and would keep computing with the weights it had then; the next call re-folds."""
    net.apply(lambda block: block._clear_cached_op() if isinstance(block, mx.gluon.HybridBlock) else None)
