"""Input pipelines: in-memory small-image datasets, RecordIO packing, ImageNet-style pipelines."""
from .pipeline import (Augment, LoaderPipeline, RecordPipeline, SyntheticPipeline, class_names,  # noqa: F401
                       image_pipelines, pipeline_class)
from .recordio import RecordFileError, pack, scan_records  # noqa: F401
from .small import (DATASETS, STATS, ArrayLoader, DatasetNotFound, ImageArrays,  # noqa: F401
                    fashion_mnist_dir, load_fashion_mnist, read_idx)
