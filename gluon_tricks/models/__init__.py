"""Architectures and the registry (``get_model``, ``list_models``)."""
from .gluoncv_built import SettingRefused  # noqa: F401
from .inception import Inception3  # noqa: F401
from .mobilenet import MobileNet, MobileNetV2  # noqa: F401
from .registry import UnknownModel, builder, get_model, list_models, model_settings, register  # noqa: F401
from .resnet import GlobalAvgPool, ResNet, ResidualUnit, global_avg_pool, inference_graph  # noqa: F401
from .resnet_v2 import PreActResNet, PreActUnit  # noqa: F401
from .small import ResNet9  # noqa: F401
from .weights import WeightsMismatch, load_params  # noqa: F401
