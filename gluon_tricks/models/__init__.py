"""Architectures and the registry (``get_model``, ``list_models``)."""
from .inception import Inception3  # noqa: F401
from .mobilenet import MobileNet, MobileNetV2  # noqa: F401
from .registry import (SettingRefused, UnknownModel, builder, get_model, list_models, model_settings,  # noqa: F401
                       register)
from .resnet import GlobalAvgPool, ResNet, ResidualUnit, global_avg_pool, inference_graph  # noqa: F401
from .resnet_v2 import PreActResNet, PreActUnit  # noqa: F401
from .small import ResNet9  # noqa: F401
from .weights import WeightsMismatch, load_params  # noqa: F401
