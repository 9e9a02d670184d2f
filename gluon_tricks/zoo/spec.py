"""What a model name stands for (:class:`ModelSpec`: architecture, settings, published version) and
where its weights come from: a file, or a published version shipped here or fetched into the cache."""
import dataclasses
import functools
import os
import sys
from typing import Optional

import mxnet as mx

from ..models import registered_names
from ..notice import notice
from . import catalog, store
from .adapt import classifier_size
from ..errors import InputNotFound



def cache_dir():
    """$MXNET_HOME/models (default ~/.mxnet/models): the folder GluonCV caches weights in too."""
    return os.path.join(mx.base.data_dir(), "models")


def weights_file(entry, root=None):
    """The verified .params file of a published ``entry``. This project's models come with the
    package (a wheel's gluon_tricks/zoo/published/, a checkout's model_zoo/) and are on no mirror:
    the shipped copy, else a copy put in the cache by hand, else one line on how to restore them.
    GluonCV's come from the cache ``root`` (default $MXNET_HOME/models, which GluonCV shares),
    downloaded when missing (see :mod:`gluon_tricks.zoo.store`)."""
    root = root or cache_dir()
    bundled = entry.bundled
    if bundled:
        if os.path.isfile(bundled) and store.matches(store.sha1_of(bundled), entry.checksum):
            return bundled
        cached = os.path.join(root, store.file_name(entry.name, entry.checksum) + ".params")
        if os.path.isfile(cached) and store.matches(store.sha1_of(cached), entry.checksum):
            return cached
        damage = ("is missing" if not os.path.isfile(bundled) else "has sha1 %s, not the published %s"
                  % (store.sha1_of(bundled), entry.checksum))
        raise store.ZooError(
            "%s %s: the weights of %s, which come with gluon_tricks and are on no mirror, are damaged; restore "
            "them by reinstalling gluon_tricks, or from a source checkout: git checkout -- %s"
            % (bundled, damage, entry.name, os.path.join(entry.source, entry.name + ".params")))
    if not entry.sha1:
        notice("%s version %s: only the first 8 hex digits of its sha1 are published, so only those are checked"
               % (entry.name, entry.tag))
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm
        progress = functools.partial(tqdm, unit="B", unit_scale=True, leave=False)
    return store.fetch(entry.name, entry.checksum, root, progress=progress)


PUBLISHED = ("gluoncv", "zoo", "true")  # "the published weights of the model itself"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What one model name stands for, resolved once (:func:`lookup`): the registry architecture
    and its settings; the published version behind the name or the weights (its inputs and class
    names), or None; and, when weights were asked for, the verified file and its classifier's size."""
    name: str
    architecture: str
    settings: dict
    entry: Optional[catalog.Entry] = None
    weights: Optional[str] = None
    weights_classes: int = 0

    @property
    def inputs(self):
        return self.entry.inputs if self.entry else None


def lookup(name, weights=None, root=None):
    """``name`` (a registry or published name) as a :class:`ModelSpec`. ``weights``: None or False
    (the architecture only); True, 'gluoncv' or 'zoo' for the name's default published version;
    one of its version tags; another published name (``NAME`` or ``NAME:TAG``) of the same
    architecture; or a .params file. Published files come verified from the repository or the
    cache ``root`` (downloaded when missing)."""
    if name in set(registered_names()):
        arch, settings, named = name, {}, None
    else:
        named = catalog.entry(name)  # unknown names fail here, with close matches
        arch, settings = named.architecture, dict(named.settings)
    if weights is None or weights is False:
        return ModelSpec(name, arch, settings, named)
    source = str(weights)
    if weights is True or source.lower() in PUBLISHED:
        e = catalog.entry(name)
    elif os.path.isfile(source):
        return ModelSpec(name, arch, settings, None, source, classifier_size(source))
    elif os.sep in source or source.endswith(".params"):
        raise InputNotFound("weights file %s does not exist" % source)
    elif source.split(":")[0] in catalog.published_names():
        other, _, tag = source.partition(":")
        e = catalog.entry(other, tag or True)
        if (e.architecture, dict(e.settings)) != (arch, settings):
            raise store.ZooError("%s is a %s, not a %s" % (other, e.architecture, arch))
    else:
        try:
            e = catalog.entry(name, source)
        except store.ZooError as err:
            raise store.ZooError("%r is not a weights file, a published name or a version tag (%s)"
                                 % (source, err)) from None
    path = weights_file(e, root)
    return ModelSpec(name, arch, settings, e, path, classifier_size(path))
