"""Architectures and their registry (``construct``, ``registered_names``); weights and the public
``get_model`` are in :mod:`gluon_tricks.zoo`."""
from .inception import Inception3  # noqa: F401
from .mobilenet import MobileNet, MobileNetV2  # noqa: F401
from .registry import (SettingRefused, UnknownModel, registered_names, construct, builder,  # noqa: F401
                       model_settings, register)
from .layers import GlobalAvgPool, global_avg_pool, inference_graph  # noqa: F401
from .resnet import ResNet, ResidualUnit  # noqa: F401
from .resnet_v2 import PreActResNet, PreActUnit  # noqa: F401
from .resnet9 import ResNet9  # noqa: F401
from .weights import WeightsMismatch, load_params  # noqa: F401
