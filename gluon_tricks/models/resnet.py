"""ResNet v1 family: every variant of the Bag-of-Tricks paper is a switch on one HybridBlock."""
import re

from mxnet.gluon import HybridBlock, nn

from .layers import GlobalAvgPool, fused, norm, se_scale, squeeze_excite
from .weights import load_params
from ..errors import BadInput

# depth -> (bottleneck?, blocks per stage), ImageNet layouts of He et al. 2016.
IMAGENET_DEPTHS = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}


def stage_plan(depth, small_input, layers=None, bottleneck=None, channels=None):
    """(bottleneck?, blocks per stage, widths per stage) from a depth, unless given explicitly.

    ImageNet depths follow He et al. 2016; small-input depths are 6n+2 with n basic blocks in
    each of three stages (16, 32, 64 wide)."""
    if layers is None:
        if small_input:
            if depth < 8 or (depth - 2) % 6:
                raise BadInput("small-input ResNet depth must be 6n+2 (20, 32, 44, 56, 110...), got %d" % depth)
            plan = (False, ((depth - 2) // 6,) * 3)
        elif depth in IMAGENET_DEPTHS:
            plan = IMAGENET_DEPTHS[depth]
        else:
            raise BadInput("ResNet depth must be one of %s, got %r" % (sorted(IMAGENET_DEPTHS), depth))
        layers = plan[1]
        bottleneck = plan[0] if bottleneck is None else bottleneck
    channels = tuple(channels or ((16, 32, 64) if small_input else (64, 128, 256, 512))[:len(layers)])
    if len(channels) != len(layers):
        raise BadInput("need one channel width per stage: %d widths for %d stages" % (len(channels), len(layers)))
    return bool(bottleneck), tuple(layers), channels


def check_choice(name, value, options):
    if value not in options:
        raise BadInput("%s must be one of %s, got %r" % (name, ", ".join(map(repr, options)), value))


def make_downsample(out_channels, stride, avg, norm_layer, norm_kwargs):
    """Projection shortcut. ResNet-D (avg=True) pools first so the 1x1 conv sees every pixel."""
    down = nn.HybridSequential(prefix="")
    if avg:  # pool even at stride 1, so parameter indices match GluonCV's v1d files
        down.add(nn.AvgPool2D(pool_size=stride, strides=stride, ceil_mode=True, count_include_pad=False))
        stride = 1
    down.add(nn.Conv2D(out_channels, kernel_size=1, strides=stride, use_bias=False))
    down.add(norm(norm_layer, norm_kwargs))
    return down


class ResidualUnit(HybridBlock):
    """A v1 residual unit: basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1 with 4x expansion).

    Children are named conv1/bn1/relu1... as in GluonCV's v1b blocks so that parameter
    files load by structure. The fb.resnet.torch ablations are switches: ``bn_after_add``
    moves the last BN after the addition, ``relu_after_add=False`` drops the final ReLU.
    ``fused_bn_relu`` runs each BN + ReLU pair as one oneDNN operator (MXNet's BatchNormReLU:
    the same parameters under the same names, one pass over the activations instead of two).
    ResNeXt (Xie et al. 2017) is a bottleneck whose 3x3 conv is grouped: ``cardinality`` groups of
    ``bottleneck_width`` channels per 64 of ``planes`` (32x4d: 32 groups, 128 wide in the first stage).
    """

    def __init__(self, planes, stride=1, downsample=None, bottleneck=False, stride_in_1x1=False,
                 conv_bias=False, last_gamma=False, use_se=False, se_conv=False, bn_after_add=False,
                 relu_after_add=True, cardinality=1, bottleneck_width=64, norm_layer=nn.BatchNorm,
                 norm_kwargs=None, fused_bn_relu=False, **kwargs):
        super().__init__(**kwargs)
        if bn_after_add and last_gamma:
            raise BadInput("last_gamma zero-initialises the BN that bn_after_add moves onto the sum; "
                           "together they would zero every unit's output")
        if cardinality != 1 and not bottleneck:
            raise BadInput("cardinality groups a bottleneck's 3x3 convolution; basic blocks have none")
        kernels = (1, 3, 1) if bottleneck else (3, 3)
        inner = cardinality * (planes * bottleneck_width // 64)
        widths = (inner, inner, planes * 4) if bottleneck else (planes, planes)
        stride_at = 0 if (stride_in_1x1 or not bottleneck) else 1
        self._depth = len(kernels)
        self._bn_after_add = bn_after_add
        self._relu_after_add = relu_after_add
        with self.name_scope():
            for i, (k, width) in enumerate(zip(kernels, widths), start=1):
                last = i == self._depth
                setattr(self, "conv%d" % i, nn.Conv2D(
                    width, kernel_size=k, strides=stride if i - 1 == stride_at else 1, padding=k // 2,
                    groups=cardinality if k == 3 and bottleneck else 1, use_bias=conv_bias and k == 1))
                # MXNet 1.9.1's oneDNN cannot train a grouped convolution next to a BatchNormReLU ("could not
                # create a primitive descriptor iterator" in backward): a ResNeXt unit keeps its pairs apart
                fuse = fused_bn_relu and not last and cardinality == 1
                setattr(self, "bn%d" % i, norm(fused(norm_layer) if fuse else norm_layer, norm_kwargs,
                                                 zero_gamma=last and last_gamma))
                if not last:
                    setattr(self, "relu%d" % i, None if fuse else nn.Activation("relu"))
            self.se = squeeze_excite(widths[-1], se_conv) if use_se else None
            self.downsample = downsample

    def hybrid_forward(self, F, x):
        out = x
        for i in range(1, self._depth + 1):
            out = getattr(self, "conv%d" % i)(out)
            if i < self._depth:
                out = getattr(self, "bn%d" % i)(out)
                relu = getattr(self, "relu%d" % i)
                out = relu(out) if relu is not None else out
            elif not self._bn_after_add:
                out = getattr(self, "bn%d" % i)(out)
        if self.se is not None:
            out = se_scale(F, self.se, out)
        out = out + (self.downsample(x) if self.downsample is not None else x)
        if self._bn_after_add:
            out = getattr(self, "bn%d" % self._depth)(out)
        return F.Activation(out, act_type="relu") if self._relu_after_add else out


class ResNet(HybridBlock):
    r"""ResNet v1 with the tweaks of He et al., "Bag of Tricks for Image Classification" (2019).

    The variants of the paper's Figure 2 and GluonCV's extra stems are settings:

    ========  =========================================================  =====================
    variant   what changes                                               settings
    ========  =========================================================  =====================
    A (v1)    original: stride 2 in the bottleneck's first 1x1 conv      ``stride_in_1x1=True``
    B (v1b)   stride 2 moved to the 3x3 conv (torchvision, NVIDIA v1.5)  defaults
    C (v1c)   7x7 stem replaced by three 3x3 convs (32, 32, 64)          ``stem='deep'``
    D (v1d)   C + 2x2 avg-pool before the 1x1 projection shortcut        ``stem='deep', down='avg'``
    E (v1e)   D with a wider deep stem (64, 64, 128)                     ``+ stem_channels=128``
    S (v1s)   C with the wider deep stem                                 ``stem='deep', stem_channels=128``
    ========  =========================================================  =====================

    ``small_input=True`` makes the CIFAR / Fashion-MNIST form: a stride-1 3x3 stem (or a
    stride-1 deep stem), no max-pool and usually three stages (16, 32, 64). B is a no-op there
    (basic blocks have no 1x1 conv); C and D apply.

    ResNeXt is a setting too: ``cardinality=32, bottleneck_width=4`` is resnext50_32x4d's grouped
    bottleneck, and every switch above applies to it (a ResNeXt-50-D is ``stem='deep', down='avg'``).

    Other switches: ``use_se`` (squeeze-excitation; ``se_conv`` for GluonCV's ResNeXt layout of it),
    ``last_gamma`` (zero-init the last BN gamma of each residual branch, Goyal et al. 2017: each unit
    starts as identity),
    ``bn_after_add`` / ``relu_after_add`` (fb.resnet.torch block ablations), ``final_drop``.
    ``fused_bn_relu`` runs the BN + ReLU pairs after the stem and inside the units as one oneDNN
    operator each (parameter names unchanged, so weights stay interchangeable; the deep stem's
    inner pairs stay separate, as their positions are part of GluonCV's names; so do a ResNeXt unit's, which
    MXNet 1.9.1's oneDNN cannot train beside a grouped convolution).
    ``conv_bias`` and ``stem_relu=False`` exist only to reproduce quirks of GluonCV's
    resnet*_v1 (biased 1x1 convs) and cifar_resnet*_v1 (no ReLU after the stem).
    ``layout='gluoncv_v1'`` lets ``load_parameters`` read GluonCV's ``features.N`` files.
    """

    def __init__(self, depth=50, classes=1000, small_input=False, channels=None, layers=None,
                 bottleneck=None, stem="plain", stem_channels=None, stem_relu=True, down="conv",
                 stride_in_1x1=False, conv_bias=False, use_se=False, se_conv=False, last_gamma=False,
                 bn_after_add=False, relu_after_add=True, cardinality=1, bottleneck_width=64, final_drop=0.0,
                 layout="gluoncv_v1b", norm_layer=nn.BatchNorm, norm_kwargs=None, fused_bn_relu=False, **kwargs):
        super().__init__(**kwargs)
        check_choice("stem", stem, ("plain", "deep"))
        check_choice("down", down, ("conv", "avg"))
        check_choice("layout", layout, ("gluoncv_v1", "gluoncv_v1b"))
        bottleneck, layers, channels = stage_plan(depth, small_input, layers, bottleneck, channels)
        stem_channels = stem_channels or channels[0]
        self._layout = layout
        # index of stage 1 in GluonCV's `features`: after conv, BN, the ReLU and the max-pool it has
        self._stage_offset = 2 + bool(stem_relu) + (not small_input)
        unit = dict(bottleneck=bottleneck, stride_in_1x1=stride_in_1x1, conv_bias=conv_bias,
                    use_se=use_se, se_conv=se_conv, last_gamma=last_gamma, bn_after_add=bn_after_add,
                    relu_after_add=relu_after_add, cardinality=cardinality, bottleneck_width=bottleneck_width,
                    norm_layer=norm_layer, norm_kwargs=norm_kwargs, fused_bn_relu=fused_bn_relu)
        expansion = 4 if bottleneck else 1
        with self.name_scope():
            self.conv1 = self._stem(stem, stem_channels, small_input, norm_layer, norm_kwargs)
            fuse = fused_bn_relu and stem_relu
            self.bn1 = norm(fused(norm_layer) if fuse else norm_layer, norm_kwargs)
            self.relu = nn.Activation("relu") if stem_relu and not fuse else None
            self.maxpool = None if small_input else nn.MaxPool2D(pool_size=3, strides=2, padding=1)
            in_channels = stem_channels
            for i, (planes, count) in enumerate(zip(channels, layers)):
                stride = 1 if i == 0 else 2
                stage = nn.HybridSequential(prefix="layers%d_" % (i + 1))
                with stage.name_scope():
                    for j in range(count):
                        down_block = None
                        if j == 0 and (stride != 1 or in_channels != planes * expansion):
                            down_block = make_downsample(planes * expansion, stride, down == "avg",
                                                         norm_layer, norm_kwargs)
                        stage.add(ResidualUnit(planes, stride if j == 0 else 1, down_block, **unit))
                in_channels = planes * expansion
                setattr(self, "layer%d" % (i + 1), stage)
            self._num_stages = len(layers)
            self.avgpool = GlobalAvgPool()
            self.flat = nn.Flatten()
            self.drop = nn.Dropout(final_drop) if final_drop > 0 else None
            self.fc = nn.Dense(classes)

    @staticmethod
    def _stem(stem, width, small_input, norm_layer, norm_kwargs):
        stride = 1 if small_input else 2
        if stem == "plain":
            k = 3 if small_input else 7
            return nn.Conv2D(width, kernel_size=k, strides=stride, padding=k // 2, use_bias=False)
        seq = nn.HybridSequential(prefix="conv1")
        half = width // 2
        seq.add(nn.Conv2D(half, 3, stride, 1, use_bias=False), norm(norm_layer, norm_kwargs),
                nn.Activation("relu"), nn.Conv2D(half, 3, 1, 1, use_bias=False),
                norm(norm_layer, norm_kwargs), nn.Activation("relu"),
                nn.Conv2D(width, 3, 1, 1, use_bias=False))
        return seq

    def features(self, F, x):
        x = self.bn1(self.conv1(x))
        if self.relu is not None:
            x = self.relu(x)
        if self.maxpool is not None:
            x = self.maxpool(x)
        for i in range(1, self._num_stages + 1):
            x = getattr(self, "layer%d" % i)(x)
        return self.flat(self.avgpool(x))

    def hybrid_forward(self, F, x):
        x = self.features(F, x)
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)

    def load_parameters(self, filename, ctx=None, allow_missing=False, ignore_extra=False,
                        cast_dtype=False, dtype_source="current"):
        """Load our own files, GluonCV's v1b-style files, or GluonCV's ``features.N`` v1 files."""
        rename = None
        if self._layout == "gluoncv_v1":
            offset = self._stage_offset
            rename = lambda name: gluoncv_v1_to_ours(name, offset)  # noqa: E731
        load_params(self, filename, ctx=ctx, allow_missing=allow_missing, ignore_extra=ignore_extra,
                    cast_dtype=cast_dtype, dtype_source=dtype_source, rename=rename)


# GluonCV's resnet.py / cifarresnet.py v1 blocks keep convs and BNs in a `body` sequence.
_BODY = {"0": "conv1", "1": "bn1", "3": "conv2", "4": "bn2", "6": "conv3", "7": "bn3"}


def gluoncv_v1_to_ours(name, stage_offset):
    """Map a GluonCV ``features.N`` v1 parameter name onto this module's names (identity otherwise)."""
    if not name.startswith(("features.", "output.")):
        return name
    name = re.sub(r"^output\.", "fc.", name)
    name = re.sub(r"^features\.0\.", "conv1.", name)
    name = re.sub(r"^features\.1\.", "bn1.", name)
    name = re.sub(r"^features\.(\d+)\.", lambda m: "layer%d." % (int(m.group(1)) - stage_offset + 1), name)
    return re.sub(r"\.body\.(\d)\.", lambda m: ".%s." % _BODY[m.group(1)], name)
