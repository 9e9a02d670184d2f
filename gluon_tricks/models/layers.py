"""Layers and checks several networks share: normalisation with its fused BN + ReLU, global pooling
in its training and inference forms, squeeze-excitation, and GluonCV-indexed conv + BN steps."""
from mxnet.gluon import HybridBlock, nn

from ..errors import BadInput


def norm(norm_layer, norm_kwargs, zero_gamma=False):
    """A ``norm_layer`` with ``norm_kwargs``; ``zero_gamma`` starts its scale at 0 (zero-gamma)."""
    kwargs = dict(norm_kwargs or {})
    if zero_gamma:
        kwargs["gamma_initializer"] = "zeros"
    return norm_layer(**kwargs)


def fused(norm_layer):
    """The BN + ReLU operator for ``norm_layer`` (only plain BatchNorm has one)."""
    if norm_layer is not nn.BatchNorm:
        raise BadInput("fused_bn_relu needs norm_layer=BatchNorm (MXNet has no fused %s + ReLU)"
                       % getattr(norm_layer, "__name__", norm_layer))
    return nn.BatchNormReLU


def global_avg_pool(F, x, pooling_op=False):
    """Spatial mean of NCHW ``x``, (N, C, 1, 1). Training graphs take it as a reduction: with 128
    channels or fewer, MXNet 1.9.1's oneDNN ``Pooling(global_pool=True)`` backward hands back its
    gradient in a layout (acdB16b) that oneDNN has only reference kernels for, so it and every batch
    norm behind it on the residual path run ~100x slower (cifar_resnet20's step: 2.5x; docs/results/speed.rst
    "global pooling"). Inference graphs (``pooling_op``) keep the Pooling op, which oneDNN quantizes
    and ONNX calls GlobalAveragePool. Same numbers either way."""
    if pooling_op:
        return F.Pooling(x, kernel=(1, 1), global_pool=True, pool_type="avg")
    return F.mean(x, axis=(2, 3), keepdims=True)


class GlobalAvgPool(HybridBlock):
    """``nn.GlobalAvgPool2D`` through :func:`global_avg_pool`; no parameters."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pooling_op = False

    def hybrid_forward(self, F, x):
        return global_avg_pool(F, x, self.pooling_op)


def inference_graph(net):
    """Switch ``net``'s global poolings to the Pooling op (see :func:`global_avg_pool`) and drop its
    cached graph; returns ``net``. For graphs that are exported, quantized or only run forward."""
    def switch(block):
        if isinstance(block, GlobalAvgPool):
            block.pooling_op = True
        if isinstance(block, HybridBlock):
            block._clear_cached_op()  # the next call traces the switched graph
    net.apply(switch)
    return net


def squeeze_excite(channels, conv=False):
    """SE branch (reduction 16) in GluonCV's two layouts, so se_* weights stay interchangeable:
    bias-free Dense layers (se_resnet), or 1x1 convolutions with bias (``conv``: se_resnext)."""
    se = nn.HybridSequential(prefix="")
    if conv:
        se.add(nn.Conv2D(channels // 16, 1), nn.Activation("relu"), nn.Conv2D(channels, 1), nn.Activation("sigmoid"))
    else:
        se.add(nn.Dense(channels // 16, use_bias=False), nn.Activation("relu"),
               nn.Dense(channels, use_bias=False), nn.Activation("sigmoid"))
    return se


def se_scale(F, se, x):
    """``x`` scaled channel-wise by the squeeze-excitation branch ``se`` of its pooled features."""
    w = se(global_avg_pool(F, x))
    return F.broadcast_mul(x, F.reshape(w, shape=(0, 0, 1, 1)))  # Dense gives (N, C), a 1x1 conv (N, C, 1, 1)


class ReLU6(HybridBlock):
    """min(max(x, 0), 6): MobileNetV2's activation, which keeps activations in a range low precision holds."""

    def hybrid_forward(self, F, x):
        return F.clip(x, 0.0, 6.0)


class Identity(HybridBlock):
    """Stands where a fused BN + ReLU's ReLU was, so the children keep GluonCV's indices (and names)."""

    def hybrid_forward(self, F, x):
        return x


def add_conv_bn(seq, channels, kernel=1, stride=1, groups=1, act="relu", norm_layer=nn.BatchNorm, norm_kwargs=None,
                zero_gamma=False, fused_bn_relu=False, padding=None):
    """Conv (no bias) + BN [+ activation] appended to ``seq`` as separate children, GluonCV's indexing.
    ``fused_bn_relu`` runs BN + ReLU as MXNet's one oneDNN operator (the same parameters)."""
    seq.add(nn.Conv2D(channels, kernel, stride, kernel // 2 if padding is None else padding, groups=groups,
                      use_bias=False))
    if act == "relu" and fused_bn_relu:
        seq.add(norm(fused(norm_layer), norm_kwargs, zero_gamma), Identity())
        return
    seq.add(norm(norm_layer, norm_kwargs, zero_gamma))
    if act == "relu":
        seq.add(nn.Activation("relu"))
    elif act == "relu6":
        seq.add(ReLU6())


def refuse_zero_gamma(last_gamma, network):
    if last_gamma:
        raise BadInput("zero-gamma (last_gamma) starts each residual unit as the identity; %s has no residual "
                       "units, so it does not apply" % network)
