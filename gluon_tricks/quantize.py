"""int8 inference through MXNet's own quantization (``mxnet.contrib.quantization``, oneDNN).

Convolutions and dense layers run on int8 with thresholds calibrated on training images (seen
through the validation transform, as inference will see them); everything else stays float32.
On CPUs with VNNI (avx512_vnni, avx_vnni) or AMX int8 the oneDNN kernels do four int8
multiply-adds where float32 does one; elsewhere int8 runs but need not be faster."""
import os
import warnings

import mxnet as mx

from .machine import cpu_flags
from .models import inference_graph
from .errors import BadInput, InputNotFound, reason

CALIB_MODES = ("naive", "entropy", "none")
INT8_FAST_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


class QuantizationUnsupported(BadInput):
    """int8 is not available here (a GPU context, an MXNet built without oneDNN, or a network with a layer
    MXNet's oneDNN has no int8 kernel for)."""


def check_int8(ctx, flags=None):
    """None when int8 inference runs on ``ctx``; raises QuantizationUnsupported otherwise. Returns a
    one-line note when it runs but this CPU lacks the instructions that make it fast."""
    if ctx.device_type != "cpu":
        raise QuantizationUnsupported("int8 inference runs on the CPU only here (MXNet's oneDNN quantization); "
                                      "drop --gpus")
    if not mx.runtime.Features().is_enabled("MKLDNN"):
        raise QuantizationUnsupported("this MXNet build has no oneDNN (MKLDNN): int8 needs the 'mxnet' CPU wheel")
    flags = cpu_flags() if flags is None else set(flags)
    if not flags & set(INT8_FAST_FLAGS):
        return ("this CPU has none of %s: int8 runs but is not expected to beat float32"
                % ", ".join(INT8_FAST_FLAGS))
    return None


def calibration_batches(loader, count):
    """The first ``count`` images of ``loader`` (an ``epoch()`` source of (x, y) batches) as one
    NDArray: what the calibration pass reads."""
    if count < 1:
        raise BadInput("calibration needs at least one image (--calib-images)")
    taken, have = [], 0
    for x, _ in loader.epoch():
        taken.append(x[:count - have].as_in_context(mx.cpu()))
        have += taken[-1].shape[0]
        if have >= count:
            break
    if not have:
        raise BadInput("no calibration images: the calibration data set is empty")
    return mx.nd.concat(*taken, dim=0) if len(taken) > 1 else taken[0]


def quantize_net(net, shape, images=None, mode="naive", exclude=(), batch=32, ctx=None):
    """A hybridized int8 SymbolBlock computing what ``net`` computes, for inputs of ``shape`` (C, H, W).

    ``images`` (N, C, H, W): the calibration inputs, already normalised. ``mode``: 'naive' takes each
    layer's min/max output over them as its threshold, 'entropy' minimises the KL divergence of the
    quantized distribution (slower to calibrate), 'none' computes thresholds at run time (no images;
    10-20% slower inference, MXNet's figure). ``exclude``: substrings of layer names kept in float32."""
    ctx = ctx or mx.cpu()
    inference_graph(net)  # the Pooling op, which oneDNN quantizes
    if mode not in CALIB_MODES:
        raise BadInput("calibration mode %r: choose one of %s" % (mode, ", ".join(CALIB_MODES)))
    calib = None
    if mode != "none":
        if images is None or images.shape[0] == 0:
            raise BadInput("calibration mode %r needs calibration images" % mode)
        if tuple(images.shape[1:]) != tuple(shape):
            raise BadInput("calibration images are %s, the network takes %s" % (tuple(images.shape[1:]), shape))
        calib = mx.io.NDArrayIter(images, batch_size=min(batch, images.shape[0]), last_batch_handle="discard")
    try:
        with warnings.catch_warnings():  # SymbolBlock's "Cannot decide type for ... data": inputs are float32
            warnings.simplefilter("ignore", UserWarning)
            qnet = mx.contrib.quantization.quantize_net_v2(
                net, quantized_dtype="auto", quantize_mode="full", exclude_layers_match=list(exclude), calib_data=calib,
                data_shapes=None if calib else [mx.io.DataDesc("data", (batch,) + tuple(shape))], calib_mode=mode,
                num_calib_examples=None if calib is None else images.shape[0], ctx=ctx, logger=None)
        qnet.hybridize(static_alloc=True, static_shape=True)
        qnet(mx.nd.zeros((1,) + tuple(shape), ctx=ctx)).wait_to_read()  # oneDNN picks its int8 kernels here
    except mx.base.MXNetError as err:  # a layer MXNet 1.9.1's oneDNN has no int8 kernel for
        raise QuantizationUnsupported("MXNet 1.9.1's int8 quantization cannot run this network (%s); it runs in "
                                      "float32" % reason(err)) from None
    return qnet


def load(prefix, ctx=None):
    """The network :func:`gluon_tricks.export.export` wrote (float32 or int8), hybridized."""
    ctx = ctx or mx.cpu()
    symbol, params = prefix + "-symbol.json", prefix + "-0000.params"
    for path in (symbol, params):
        if not os.path.isfile(path):
            raise InputNotFound("%s is missing: export.py writes PREFIX-symbol.json and PREFIX-0000.params" % path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        net = mx.gluon.SymbolBlock.imports(symbol, ["data"], params, ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    return net
