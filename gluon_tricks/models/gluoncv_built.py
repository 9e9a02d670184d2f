"""Networks this package does not write itself: GluonCV builds them, under GluonCV's names and with its
parameter layout, so its published ImageNet weights load as they are, and they train, evaluate, export,
quantize and benchmark through the same scripts as the networks written here."""
import functools

# GluonCV's ImageNet classification networks that are not written in this package, by family. Left out:
# resnet*_v1b_gn (GluonCV's GroupNorm cannot be hybridized under MXNet 1.9.1: its Reshape gets an invalid
# keep_highest, so the networks could not train in hybrid mode, export or quantize), hrnet_*_c (their constructor
# ignores ``classes``, and GluonCV publishes no weights for them) and the pruned resnet*_0.NN (their channel counts
# come with their weights files).
NAMES = (
    ["alexnet", "darknet53", "googlenet", "xception", "xception71", "senet_154", "senet_154e"]
    + ["densenet%d" % d for d in (121, 161, 169, 201)]
    + ["vgg%d%s" % (d, bn) for bn in ("", "_bn") for d in (11, 13, 16, 19)]
    + ["squeezenet1.0", "squeezenet1.1", "mobilenetv3_large", "mobilenetv3_small", "shufflenet_v1", "shufflenet_v2"]
    + ["resnest%d" % d for d in (14, 26, 50, 101, 200, 269)]
    + ["resnext101e_64x4d", "se_resnext101e_64x4d"]
    + ["nasnet_4_1056", "nasnet_5_1538", "nasnet_6_4032", "nasnet_7_1920"]
    + ["residualattentionnet%d" % d for d in (56, 92, 128, 164, 200, 236, 452)]
)
# Settings GluonCV's own defaults get wrong for training here: NASNet's auxiliary head would make the
# network return two outputs (GluonCV publishes no NASNet weights to keep it for).
DEFAULTS = {name: {"use_aux": False} for name in NAMES if name.startswith("nasnet")}


@functools.lru_cache(maxsize=None)
def _constructors():
    from gluoncv.model_zoo.model_zoo import _models  # imported on first use: gluoncv takes seconds to load
    return _models


def build_gluoncv(name, **settings):
    """GluonCV's ``name`` with ``settings`` passed to its constructor, uninitialised (weights load
    through :mod:`gluon_tricks.zoo`, which checks them). A setting it does not take is refused in one line."""
    from .registry import SettingRefused
    try:
        return _constructors()[name](pretrained=False, **dict(DEFAULTS.get(name, {}), **settings))
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        refused = str(err).split("argument")[-1].strip()
        raise SettingRefused("%s is built by GluonCV, whose constructor has no setting %s" % (name, refused)) from None
