"""The small data sets by name: how each loads and what its inputs are (mean/std, size). Adding
a data set is one :func:`register_dataset` call; the recipe's choices, the scripts' ``--dataset``
and inference's preprocessing all read this table."""
from dataclasses import dataclass
from typing import Callable
from ..errors import BadInput


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    load: Callable  # load(data_dir=None) -> (train, test) ImageArrays
    mean: tuple     # per channel, 0-255 scale (RGB; one value for grayscale)
    std: tuple
    size: int       # images are size x size

    @property
    def channels(self):
        return len(self.mean)

    @property
    def input_shape(self):
        return (self.channels, self.size, self.size)


DATASETS = {}


def register_dataset(name, load, mean, std, size):
    if name in DATASETS:
        raise ValueError("data set %r is registered twice" % name)
    DATASETS[name] = DatasetInfo(name, load, tuple(mean), tuple(std), size)


def dataset_info(name):
    """The registered data set ``name``; a ValueError listing the names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise BadInput("unknown dataset %r; choose from %s" % (name, ", ".join(sorted(DATASETS)))) from None


def dataset_names():
    from . import in_memory  # noqa: F401  (registers the built-in sets)
    return tuple(sorted(DATASETS))
