"""MobileNet v1 (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018), the mobile column of the
Bag-of-Tricks paper's Table 6, with GluonCV's parameter layout (``features.N``, ``output``) so its
ImageNet files load as they are.

Both are tables of (stride, width) rows scaled by a width ``multiplier``. ``small_input=True`` makes the
28-32 px form: the stem keeps full resolution, and MobileNetV2's first strided row (24 wide) runs at stride
1 too, so a 32 px image ends at 4x4 (2x2 for v1) instead of 1x1."""
from mxnet.gluon import HybridBlock, nn

from .layers import GlobalAvgPool, add_conv_bn, refuse_zero_gamma

# MobileNet v1: (depthwise stride, pointwise width) of its 13 separable layers, after a 32-wide stem.
V1_LAYERS = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)) + ((1, 512),) * 5 + ((2, 1024), (1, 1024))
# MobileNetV2: (expansion t, width c, repeats n, first stride s), the rows of the paper's Table 2.
V2_ROWS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNet(HybridBlock):
    """MobileNet v1: a 3x3 stem, then 13 depthwise 3x3 + pointwise 1x1 pairs, each conv-BN-ReLU.
    ``fused_bn_relu`` runs each BN + ReLU as one oneDNN operator (weights load either way)."""

    def __init__(self, multiplier=1.0, classes=1000, small_input=False, last_gamma=False, fused_bn_relu=False,
                 norm_layer=nn.BatchNorm, norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        refuse_zero_gamma(last_gamma, "MobileNet v1")
        norm = dict(norm_layer=norm_layer, norm_kwargs=norm_kwargs, fused_bn_relu=fused_bn_relu)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            width = int(32 * multiplier)
            add_conv_bn(self.features, width, 3, 1 if small_input else 2, **norm)
            for stride, out in V1_LAYERS:
                add_conv_bn(self.features, width, 3, stride, groups=width, **norm)  # depthwise
                width = int(out * multiplier)
                add_conv_bn(self.features, width, **norm)  # pointwise
            self.features.add(GlobalAvgPool(), nn.Flatten())
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


class LinearBottleneck(HybridBlock):
    """MobileNetV2's inverted residual: 1x1 expansion (skipped at t=1), depthwise 3x3, linear 1x1
    projection; the input is added back when shapes allow. ``last_gamma`` zero-initialises the
    projection's BN where there is such a shortcut, so the unit starts as the identity."""

    def __init__(self, in_channels, channels, t, stride, last_gamma=False, norm_layer=nn.BatchNorm,
                 norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        self.use_shortcut = stride == 1 and in_channels == channels
        norm = dict(norm_layer=norm_layer, norm_kwargs=norm_kwargs)
        hidden = in_channels * t
        with self.name_scope():
            self.out = nn.HybridSequential()
            if t != 1:
                add_conv_bn(self.out, hidden, act="relu6", **norm)
            add_conv_bn(self.out, hidden, 3, stride, groups=hidden, act="relu6", **norm)
            add_conv_bn(self.out, channels, act=None, zero_gamma=last_gamma and self.use_shortcut, **norm)

    def hybrid_forward(self, F, x):
        out = self.out(x)
        return out + x if self.use_shortcut else out


class MobileNetV2(HybridBlock):
    """MobileNetV2: a 3x3 stem, the inverted residual rows of :data:`V2_ROWS`, a 1x1 conv to 1280
    (wider only for multipliers above 1) and a bias-free 1x1 conv classifier (GluonCV's ``output``)."""

    def __init__(self, multiplier=1.0, classes=1000, small_input=False, last_gamma=False,
                 norm_layer=nn.BatchNorm, norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        norm = dict(norm_layer=norm_layer, norm_kwargs=norm_kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="features_")
            with self.features.name_scope():
                width = int(32 * multiplier)
                add_conv_bn(self.features, width, 3, 1 if small_input else 2, act="relu6", **norm)
                for row, (t, c, n, s) in enumerate(V2_ROWS):
                    if small_input and row == 1:
                        s = 1
                    for i in range(n):
                        out = int(c * multiplier)
                        self.features.add(LinearBottleneck(width, out, t, s if i == 0 else 1, last_gamma, **norm))
                        width = out
                add_conv_bn(self.features, int(1280 * multiplier) if multiplier > 1.0 else 1280, act="relu6", **norm)
                self.features.add(GlobalAvgPool())
            self.output = nn.HybridSequential(prefix="output_")
            with self.output.name_scope():
                self.output.add(nn.Conv2D(classes, 1, use_bias=False, prefix="pred_"), nn.Flatten())

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))
