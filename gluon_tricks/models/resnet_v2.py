"""Pre-activation ResNet (He et al., "Identity Mappings in Deep Residual Networks", 2016).

Children follow GluonCV's ResNetV2 / CIFARResNetV2 names (``features.N``, ``bn1``, ``conv1``...)
so GluonCV's v2 parameter files load as they are.
"""
from mxnet.gluon import HybridBlock, nn

from .layers import GlobalAvgPool, norm, se_scale, squeeze_excite
from .resnet import check_choice, stage_plan


class PreActUnit(HybridBlock):
    """BN-ReLU-conv unit. ``shortcut_from='preact'`` feeds the projection the normalised input
    (GluonCV ImageNet v2); ``'input'`` feeds it the raw input (GluonCV CIFAR v2)."""

    def __init__(self, planes, stride=1, project=False, bottleneck=False, down="conv",
                 shortcut_from="preact", last_gamma=False, use_se=False, drop_rate=0.0,
                 norm_layer=nn.BatchNorm, norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        kernels = (1, 3, 1) if bottleneck else (3, 3)
        widths = (planes, planes, planes * 4) if bottleneck else (planes, planes)
        stride_at = 1 if bottleneck else 0
        self._depth = len(kernels)
        self._preact_shortcut = shortcut_from == "preact"
        with self.name_scope():
            for i, (k, width) in enumerate(zip(kernels, widths), start=1):
                setattr(self, "bn%d" % i, norm(norm_layer, norm_kwargs,
                                                zero_gamma=last_gamma and i == self._depth))
                setattr(self, "conv%d" % i, nn.Conv2D(
                    width, kernel_size=k, strides=stride if i - 1 == stride_at else 1,
                    padding=k // 2, use_bias=False))
            self.se = squeeze_excite(widths[-1]) if use_se else None
            self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else None  # before the last conv (WRN)
            self.downsample = None
            if project:
                conv = nn.Conv2D(widths[-1], 1, 1 if down == "avg" else stride, use_bias=False)
                if down == "avg":  # ResNet-D shortcut; a new layout, no GluonCV file has it
                    self.downsample = nn.HybridSequential(prefix="")
                    self.downsample.add(nn.AvgPool2D(stride, stride, ceil_mode=True,
                                                     count_include_pad=False), conv)
                else:
                    self.downsample = conv

    def hybrid_forward(self, F, x):
        pre = F.Activation(self.bn1(x), act_type="relu")  # Activation has a oneDNN kernel; F.relu does not
        shortcut = x
        if self.downsample is not None:
            shortcut = self.downsample(pre if self._preact_shortcut else x)
        out = self.conv1(pre)
        for i in range(2, self._depth + 1):
            out = F.Activation(getattr(self, "bn%d" % i)(out), act_type="relu")
            if self.drop is not None and i == self._depth:
                out = self.drop(out)
            out = getattr(self, "conv%d" % i)(out)
        if self.se is not None:
            out = se_scale(F, self.se, out)
        return out + shortcut


class PreActResNet(HybridBlock):
    """ResNet v2. ``small_input=True`` gives the CIFAR form (3x3 stride-1 stem, 16/32/64 widths).

    As in GluonCV, a BN without scale or shift normalises the input image first. Wide ResNets
    (Zagoruyko and Komodakis, 2016; GluonCV's cifar_wideresnet*) are settings: wider
    ``channels`` after a 16-channel stem (``stem_channels``), a BN after the stem conv
    (``stem_bn``, GluonCV's layout) and dropout before each unit's last conv (``drop_rate``).
    """

    def __init__(self, depth=50, classes=1000, small_input=False, channels=None, layers=None,
                 bottleneck=None, down="conv", shortcut_from="preact", last_gamma=False,
                 use_se=False, stem_channels=None, stem_bn=False, drop_rate=0.0,
                 norm_layer=nn.BatchNorm, norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        check_choice("down", down, ("conv", "avg"))
        check_choice("shortcut_from", shortcut_from, ("preact", "input"))
        bottleneck, layers, channels = stage_plan(depth, small_input, layers, bottleneck, channels)
        expansion = 4 if bottleneck else 1
        unit = dict(bottleneck=bottleneck, down=down, shortcut_from=shortcut_from, last_gamma=last_gamma,
                    use_se=use_se, drop_rate=drop_rate, norm_layer=norm_layer, norm_kwargs=norm_kwargs)
        stem_channels = stem_channels or channels[0]
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(norm(norm_layer, dict(norm_kwargs or {}, scale=False, center=False)))
            if small_input:
                self.features.add(nn.Conv2D(stem_channels, 3, 1, 1, use_bias=False))
                if stem_bn:
                    self.features.add(norm(norm_layer, norm_kwargs))
            else:
                self.features.add(nn.Conv2D(stem_channels, 7, 2, 3, use_bias=False),
                                  norm(norm_layer, norm_kwargs), nn.Activation("relu"),
                                  nn.MaxPool2D(3, 2, 1))
            in_channels = stem_channels
            for i, (planes, count) in enumerate(zip(channels, layers)):
                stride = 1 if i == 0 else 2
                stage = nn.HybridSequential(prefix="stage%d_" % (i + 1))
                with stage.name_scope():
                    for j in range(count):
                        project = j == 0 and (stride != 1 or in_channels != planes * expansion)
                        stage.add(PreActUnit(planes, stride if j == 0 else 1, project, **unit))
                in_channels = planes * expansion
                self.features.add(stage)
            self.features.add(norm(norm_layer, norm_kwargs), nn.Activation("relu"),
                              GlobalAvgPool(), nn.Flatten())
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))
