"""Input: small data sets in memory (by name), RecordIO packing, ImageNet-style pipelines.

Modules, in the order data flows: ``datasets`` (the registry) and ``small`` (in-memory sets),
``recordio`` (packing) and ``sources`` (reading images by index), ``decode`` and ``augment``
(per-image and batch transforms), ``backends`` (batch sources), ``loaders`` (a recipe's sources)."""
from .augment import Augment, BatchErasing  # noqa: F401
from .backends import (BACKENDS, RecordPipeline, SyntheticPipeline, ThreadedPipeline, image_pipelines,  # noqa: F401
                       pipeline_class)
from .datasets import DATASETS, DatasetInfo, dataset_info, dataset_names, register_dataset  # noqa: F401
from .loaders import build_loaders, build_test_loader, calibration_loader  # noqa: F401
from .recordio import RecordFileError, pack, scan_records  # noqa: F401
from .in_memory import ArrayLoader, DatasetNotFound, ImageArrays, fashion_mnist_dir, load_fashion_mnist, read_idx  # noqa: F401
from .sources import class_names  # noqa: F401
