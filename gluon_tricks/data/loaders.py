"""A recipe's batch sources: the small in-memory sets by name, or your own images (``.rec``
files or folders) through a pipeline backend. Reads only the recipe's data fields."""
import dataclasses
import os

from .augment import Augment, BatchErasing, TransformedSource
from .backends import ThreadedPipeline, image_pipelines, pipeline_class
from .datasets import dataset_info, dataset_names
from .in_memory import ArrayLoader, stage_sizes
from ..errors import BadInput, InputNotFound


def build_loaders(recipe, part_index=0, num_parts=1):
    """(train source, test source, class names); training batches are sharded over ``num_parts``
    distributed workers, the test set is whole on each."""
    erasing = BatchErasing(recipe.cutout, recipe.random_erasing)
    if recipe.dataset == "images":
        train, val = image_paths(recipe)
        train_pipe, val_pipe, names = image_pipelines(
            train, val, recipe.batch_size, augment(recipe), recipe.data_backend, _home(recipe.rec_train_idx),
            _home(recipe.rec_val_idx), recipe.num_classes, recipe.data_threads or None, recipe.seed, part_index,
            num_parts, (recipe.train_samples, recipe.test_samples))
        if erasing:
            train_pipe = TransformedSource(train_pipe, erasing, recipe.seed, part_index)
        return train_pipe, val_pipe, names
    info = dataset_info(recipe.dataset)
    train, test = small_sets(recipe)
    train_loader = ArrayLoader(train, recipe.batch_size, info.mean, info.std, train=True, pad=recipe.pad_crop,
                               flip=recipe.flip, alternate_flip=recipe.alternate_flip,
                               batch_transform=erasing or None, seed=recipe.seed,
                               part_index=part_index, num_parts=num_parts,
                               sizes=stage_sizes(recipe.train_sizes, recipe.epochs))
    return train_loader, build_test_loader(recipe, test), train.classes


def build_test_loader(recipe, test=None):
    """The recipe's test/validation source alone (evaluation without training data)."""
    if recipe.dataset == "images":
        val = image_paths(recipe, need_train=False)[1]
        return pipeline_class(val, recipe.data_backend)(
            val, recipe.batch_size, augment(recipe), False, _home(recipe.rec_val_idx), recipe.num_classes or None,
            recipe.data_threads or None)
    info = dataset_info(recipe.dataset)
    test = test if test is not None else small_sets(recipe)[1]
    return ArrayLoader(test, recipe.batch_size, info.mean, info.std)


def calibration_loader(recipe, count, source=None):
    """A seeded random ``count`` of training images through the validation transform: what int8
    calibration must see (the inputs inference gets, from data it may learn from). ``source``: a
    small data set's name, a .rec file or a folder of class folders instead of the recipe's own."""
    if source in dataset_names():
        recipe, source = dataclasses.replace(recipe, dataset=source), None
    elif source and not os.path.exists(source):
        raise InputNotFound("calibration data %s: not a file, a folder or a data set name (%s)"
                            % (source, ", ".join(dataset_names())))
    if source or recipe.dataset == "images":
        if not source and not (recipe.rec_train or recipe.data_dir):
            raise BadInput("int8 calibration needs training images: name a training .rec or a folder of class "
                           "folders (--calib-data)")
        path, idx = (_home(source), None) if source else (image_paths(recipe)[0], _home(recipe.rec_train_idx))
        return ThreadedPipeline(path, recipe.batch_size, augment(recipe), False, idx, recipe.num_classes or None,
                                recipe.data_threads or None, recipe.seed, sample=count)
    info = dataset_info(recipe.dataset)
    train = info.load(recipe.data_dir)[0]
    return ArrayLoader(train.subset(count, seed=recipe.seed), recipe.batch_size, info.mean, info.std)


def small_sets(recipe):
    """(train, test) of a registered small data set, cut to the recipe's sample limits."""
    train, test = dataset_info(recipe.dataset).load(recipe.data_dir)
    return train.subset(recipe.train_samples, seed=recipe.seed), test.subset(recipe.test_samples)


def augment(recipe):
    """The recipe's image augmentation (and normalisation: ImageNet's mean/std unless it names its own)."""
    extra = {k: tuple(v) for k, v in (("mean", recipe.rgb_mean), ("std", recipe.rgb_std)) if v}
    return Augment(recipe.input_size, recipe.crop_ratio, flip=recipe.flip, jitter=recipe.jitter,
                   lighting=recipe.lighting, **extra)


def image_paths(recipe, need_train=True):
    if recipe.rec_val and (recipe.rec_train or not need_train):
        return _home(recipe.rec_train), _home(recipe.rec_val)
    if recipe.data_dir:
        return tuple(os.path.join(_home(recipe.data_dir), part) for part in ("train", "val"))
    raise BadInput("--dataset images needs --rec-train and --rec-val, or --data-dir holding train/ and val/ "
                   "class folders")


def _home(path):
    return os.path.expanduser(path) if path else path  # recipes may say ~/...
