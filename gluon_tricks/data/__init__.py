"""Input pipelines: in-memory small-image datasets (RecordIO and folders come later)."""
from .small import (DATASETS, STATS, ArrayLoader, DatasetNotFound, ImageArrays,  # noqa: F401
                    fashion_mnist_dir, load_fashion_mnist, read_idx)
