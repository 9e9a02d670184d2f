"""Model registry: a name is a class plus a dict of settings; ``construct`` keyword arguments
override them. Weights and published names live in :mod:`gluon_tricks.zoo`, whose ``get_model`` is the
public one."""
import difflib
import fnmatch
import functools
import inspect
import re

from . import gluoncv_built
from .inception import Inception3
from .mobilenet import MobileNet, MobileNetV2
from .resnet import IMAGENET_DEPTHS, ResNet
from .resnet_v2 import PreActResNet
from .resnet9 import ResNet9
from ..errors import BadInput

_MODELS = {}


class UnknownModel(BadInput):
    """Raised for a model name the registry does not hold; the message lists close matches."""


class SettingRefused(BadInput):
    """A setting the network does not have (``stem='deep'`` on MobileNet, ``down='avg'`` on VGG)."""


def register(name, cls, **settings):
    if name in _MODELS:
        raise ValueError("model %r is registered twice" % name)
    _MODELS[name] = (cls, settings)


def builder(name):
    """Who builds ``name``: 'gluon_tricks' (written in this package) or 'gluoncv' (GluonCV's own network)."""
    _lookup(name)
    return "gluoncv" if name in gluoncv_built.NAMES else "gluon_tricks"


def registered_names(pattern="*"):
    """Registered architecture names matching a shell-style pattern, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))


def natural_key(name):
    """Sort key that puts resnet20 before resnet110."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def model_settings(name):
    """The settings a registry name stands for (a copy)."""
    return dict(_lookup(name)[1])


def _lookup(name):
    try:
        return _MODELS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_MODELS), n=6, cutoff=0.6)
        hint = ("did you mean: %s?" % ", ".join(close)) if close else \
            "see gluon_tricks.list_models() for the %d names" % len(_MODELS)
        raise UnknownModel("unknown model %r; %s" % (name, hint)) from None


def construct(name, **kwargs):
    """Build a registered architecture, uninitialised; keyword arguments override its settings (``classes=10``, ``last_gamma=True``).
    A setting the network does not have is refused in one line (:class:`SettingRefused`)."""
    cls, settings = _lookup(name)
    if isinstance(cls, type):
        accepted = set(inspect.signature(cls.__init__).parameters) | {"prefix", "params"}
        unknown = sorted(set(kwargs) - accepted)
        if unknown:
            raise SettingRefused("%s has no setting %s; its settings: %s" % (
                name, ", ".join(map(repr, unknown)), ", ".join(sorted(accepted - {"self", "kwargs", "params"}))))
        kwargs.setdefault("prefix", name.replace(".", "_") + "_")  # GluonCV's own networks name themselves
    return cls(**dict(settings, **kwargs))


# Paper Figure 2 (and GluonCV's E/S stems) as settings of the one v1 class.
V1_VARIANTS = {
    "v1": dict(stride_in_1x1=True, conv_bias=True, layout="gluoncv_v1"),  # ResNet-A, GluonCV resnet.py
    "v1b": dict(),                                                          # ResNet-B
    "v1c": dict(stem="deep"),                                               # ResNet-C
    "v1d": dict(stem="deep", down="avg"),                                   # ResNet-D
    "v1e": dict(stem="deep", stem_channels=128, down="avg"),                # GluonCV E
    "v1s": dict(stem="deep", stem_channels=128),                            # GluonCV S
}
# Small-input (28-32 px) family; "v1" reproduces GluonCV's cifar_resnet*_v1 (no stem ReLU).
SMALL_V1_VARIANTS = {
    "v1": dict(stem_relu=False, layout="gluoncv_v1"),
    "v1b": dict(),
    "v1c": dict(stem="deep"),
    "v1d": dict(stem="deep", down="avg"),
}
SMALL = dict(small_input=True, classes=10)

for _depth in IMAGENET_DEPTHS:
    for _tag, _settings in V1_VARIANTS.items():
        register("resnet%d_%s" % (_depth, _tag), ResNet, depth=_depth, **_settings)
    register("resnet%d_v2" % _depth, PreActResNet, depth=_depth)
    register("se_resnet%d_v1" % _depth, ResNet, depth=_depth, use_se=True, **V1_VARIANTS["v1"])
    register("se_resnet%d_v2" % _depth, PreActResNet, depth=_depth, use_se=True)

for _depth in (20, 56, 110):
    for _tag, _settings in SMALL_V1_VARIANTS.items():
        register("cifar_resnet%d_%s" % (_depth, _tag), ResNet, depth=_depth, **SMALL, **_settings)
    register("cifar_resnet%d_v2" % _depth, PreActResNet, depth=_depth, shortcut_from="input", **SMALL)

# Wide ResNets WRN-d-k (GluonCV's cifar_wideresnet*): (d - 4) / 6 pre-activation units per stage,
# widths 16k, 32k, 64k after a 16-channel stem.
for _depth, _k in ((16, 10), (28, 10), (40, 8)):
    register("cifar_wideresnet%d_%d" % (_depth, _k), PreActResNet, small_input=True, classes=10,
             layers=((_depth - 4) // 6,) * 3, channels=(16 * _k, 32 * _k, 64 * _k), stem_channels=16, stem_bn=True)

# ResNeXt (Xie et al. 2017) and SE-ResNeXt: grouped bottlenecks in GluonCV's resnext.py layout.
RESNEXT = dict(layout="gluoncv_v1", se_conv=True)
for _depth, _groups, _width in ((50, 32, 4), (101, 32, 4), (101, 64, 4)):
    for _se in ("", "se_"):
        register("%sresnext%d_%dx%dd" % (_se, _depth, _groups, _width), ResNet, depth=_depth, cardinality=_groups,
                 bottleneck_width=_width, use_se=bool(_se), **RESNEXT)
# ResNeXt-29 for 32 px (GluonCV's cifar_resnext29_*): three stages of three grouped bottlenecks after a 64-wide stem.
for _groups, _width in ((16, 64), (32, 4)):
    register("cifar_resnext29_%dx%dd" % (_groups, _width), ResNet, layers=(3, 3, 3), bottleneck=True,
             channels=(64, 128, 256), cardinality=_groups, bottleneck_width=_width, **SMALL, **RESNEXT)

register("cifar_resnet9", ResNet9, classes=10)  # Myrtle.ai's fast CIFAR-10 network

# MobileNet v1 / v2 at GluonCV's width multipliers, and Inception-V3: the paper's other two networks.
for _m in ("1.0", "0.75", "0.5", "0.25"):
    register("mobilenet%s" % _m, MobileNet, multiplier=float(_m))
    register("mobilenetv2_%s" % _m, MobileNetV2, multiplier=float(_m))
register("inceptionv3", Inception3)

for _name in gluoncv_built.NAMES:
    register(_name, functools.partial(gluoncv_built.gluoncv_network, _name))
