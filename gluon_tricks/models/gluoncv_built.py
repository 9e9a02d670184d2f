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


# Where each family's settings go, by name prefix: GluonCV's module, the functions between its registered
# name and the network (their keyword settings count), and the classes they build (``__init__``'s keyword
# settings count). The public ``gluoncv.model_zoo.get_model`` builds the network; this table only says, before
# it runs, which settings it takes.
FAMILIES = {
    "alexnet": ("alexnet", ("alexnet",), ("AlexNet",)),
    "darknet": ("yolo.darknet", ("get_darknet",), ("DarknetV3",)),
    "googlenet": ("googlenet", ("googlenet",), ("GoogLeNet",)),
    "xception71": ("xception", ("get_xcetption_71",), ("Xception71",)),
    "xception": ("xception", ("get_xcetption",), ("Xception65",)),
    "senet": ("senet", ("get_senet",), ("SENet",)),
    "densenet": ("densenet", ("get_densenet",), ("DenseNet",)),
    "vgg": ("vgg", ("get_vgg",), ("VGG",)),
    "squeezenet": ("squeezenet", ("get_squeezenet",), ("SqueezeNet",)),
    "mobilenetv3": ("mobilenetv3", ("get_mobilenet_v3",), ("_MobileNetV3",)),
    "shufflenet_v1": ("shufflenet", ("get_shufflenet_v1",), ("ShuffleNetV1",)),
    "shufflenet_v2": ("shufflenet", ("get_shufflenet_v2",), ("ShuffleNetV2",)),
    "resnest": ("resnest", ("resnest50",), ("ResNeSt",)),
    "resnext": ("resnext", ("get_resnext",), ("ResNext",)),
    "se_resnext": ("resnext", ("get_resnext",), ("ResNext",)),
    "nasnet": ("nasnet", ("get_nasnet",), ("NASNetALarge",)),
    "residualattentionnet": ("residual_attentionnet", ("get_residualAttentionModel",), ("ResidualAttentionModel",)),
}
# Not the user's to set: the weights (loaded and checked by gluon_tricks.zoo) and where they would come from.
_OURS = {"self", "pretrained", "ctx", "root"}


def family(name):
    """The :data:`FAMILIES` key of a GluonCV-built name (the longest prefix that matches)."""
    return max((f for f in FAMILIES if name.startswith(f)), key=len)


@functools.lru_cache(maxsize=None)
def accepted_settings(name):
    """The settings GluonCV's ``name`` takes, read from the signatures of the functions and classes
    that receive them: their keyword parameters with defaults, and ``prefix``/``params`` where a
    class hands its ``**kwargs`` to ``HybridBlock``."""
    import importlib
    import inspect
    module, functions, classes = FAMILIES[family(name)]
    module = importlib.import_module("gluoncv.model_zoo." + module)
    accepted = set()
    for target in [getattr(module, f) for f in functions] + [getattr(module, c).__init__ for c in classes]:
        params = inspect.signature(target).parameters.values()
        accepted |= {p.name for p in params if p.default is not p.empty}
        if target.__name__ == "__init__" and any(p.kind is p.VAR_KEYWORD for p in params):
            accepted |= {"prefix", "params"}
    return frozenset(accepted - _OURS)


def gluoncv_network(name, **settings):
    """GluonCV's ``name`` from ``gluoncv.model_zoo.get_model`` with ``settings`` passed to its
    constructor, uninitialised (weights load through :mod:`gluon_tricks.zoo`, which checks them). A
    setting it does not take is refused in one line before anything is built; an error raised while
    building is GluonCV's, with its traceback."""
    from .registry import SettingRefused
    refused = sorted(set(settings) - accepted_settings(name))
    if refused:
        raise SettingRefused("%s is built by GluonCV, whose constructor has no setting %s; its settings: %s" % (
            name, ", ".join(map(repr, refused)), ", ".join(sorted(accepted_settings(name)))))
    from gluoncv.model_zoo import get_model  # imported on first use: gluoncv takes seconds to load
    return get_model(name, pretrained=False, **dict(DEFAULTS.get(name, {}), **settings))
