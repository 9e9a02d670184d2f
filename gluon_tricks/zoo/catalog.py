"""What is published: one entry per version of a network's weights, read from ``manifest.json``
(data, not code), with the inputs and classes each version expects.

A name may have several versions (GluonCV's resnet50_v1d with and without mixup); ``pretrained=True``
means the one marked default, a tag (8 hex digits, as in GluonCV's file names) picks another."""
import dataclasses
import difflib
import functools
import json
import os
from typing import Optional

from ..models import registered_names
from ..models.registry import UnknownModel, natural_key
from .store import ZooError
from ..errors import BadInput

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))  # a source checkout: model_zoo/ lives here


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What the weights expect: image size, centre-crop ratio, mean/std (0-255 scale) and classes."""
    eval_set: str
    classes: int
    class_names: tuple
    channels: int
    input_size: int
    crop_ratio: float
    mean: tuple
    std: tuple
    dataset: Optional[str] = None  # the registered data set these inputs are, if any


@dataclasses.dataclass(frozen=True)
class Entry:
    """One published version of ``name``'s weights (see the manifest's "about" for each field)."""
    name: str
    tag: str
    sha1: Optional[str]
    default: bool
    architecture: str
    inputs: Inputs
    source: str
    settings: dict = dataclasses.field(default_factory=dict)
    top1: Optional[float] = None
    top5: Optional[float] = None
    size: Optional[int] = None
    license: Optional[str] = None
    recipe: Optional[str] = None
    log: Optional[str] = None
    command: Optional[str] = None
    metrics: Optional[str] = None
    slice_top1: Optional[float] = None
    train_time_s: Optional[float] = None
    machine: Optional[dict] = None
    note: Optional[str] = None

    @property
    def checksum(self):
        """What a file must hash to: the full sha1, or only the tag where that is all that is published."""
        return self.sha1 or self.tag

    @property
    def bundled(self):
        """The weights that come with this package, or None (GluonCV's are downloaded): in an
        installed wheel, gluon_tricks/zoo/published/; in a source checkout, the model's folder."""
        if self.source == "gluoncv":
            return None
        installed = os.path.join(HERE, "published", self.name + ".params")
        return installed if os.path.isfile(installed) else os.path.join(REPOSITORY, self.source, self.name + ".params")

    def describe(self):
        """The entry as plain data (the inputs flattened in), for JSON and the command line."""
        out = dataclasses.asdict(self)
        out["inputs"] = {k: v for k, v in out["inputs"].items() if k != "class_names"}
        return out


def _inputs(spec):
    names = spec["class_names"]
    if names == "imagenet":
        names = imagenet_class_names()
    if len(names) != spec["classes"]:
        raise BadInput("manifest: %d class names for %d classes" % (len(names), spec["classes"]))
    return Inputs(**dict(spec, class_names=tuple(names), mean=tuple(spec["mean"]), std=tuple(spec["std"])))


def imagenet_class_names():
    """ImageNet-1k's 1000 class names, in the order of its labels (GluonCV's)."""
    with open(os.path.join(HERE, "imagenet_classes.txt")) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def _read(manifest):
    """Entries of a manifest (a path or its parsed dict)."""
    if not isinstance(manifest, dict):
        with open(manifest) as f:
            manifest = json.load(f)
    inputs = {key: _inputs(spec) for key, spec in manifest.get("inputs", {}).items()}
    out = []
    for raw in manifest["models"]:
        raw = dict(raw)
        try:
            raw["inputs"] = inputs[raw["inputs"]] if isinstance(raw["inputs"], str) else _inputs(raw["inputs"])
        except KeyError as err:
            raise BadInput("manifest entry %s refers to unknown inputs %s" % (raw.get("name"), err)) from None
        out.append(Entry(**raw))
    return out


_EXTRA = []


@functools.lru_cache(maxsize=None)
def _builtin():
    return tuple(_read(os.path.join(HERE, "manifest.json")))


def entries():
    """Every published version: this package's manifest, then any added with :func:`add_manifest`."""
    return list(_builtin()) + _EXTRA


def add_manifest(manifest):
    """Publish more weights (a manifest file or dict in the same format: a private zoo, a test's).
    A later entry with the same name and tag shadows an earlier one."""
    added = _read(manifest)
    _EXTRA.extend(added)
    return added


def remove_manifests():
    """Forget every manifest added with :func:`add_manifest`."""
    _EXTRA.clear()


def published_names():
    """Names that have published weights, sorted."""
    return sorted({e.name for e in entries()}, key=natural_key)


def versions(name):
    """The published versions of ``name``, default first."""
    found = {}
    for e in entries():
        if e.name == name:
            found[e.tag] = e
    return sorted(found.values(), key=lambda e: (not e.default, e.tag))


def entry(name, version=True):
    """The entry ``get_model(name, pretrained=version)`` loads: ``True`` for the default version,
    else a tag. A ZooError says what exists when the tag or weights do not (UnknownModel, with
    close matches, when the name is neither an architecture nor published)."""
    found = versions(name)
    if not found:
        known = set(registered_names())
        if name in known:
            close = difflib.get_close_matches(str(name), published_names(), n=4, cutoff=0.5)
            raise ZooError("no published weights for %r; %s(%d names have weights: gt-zoo list)" % (
                name, "the closest published: %s " % ", ".join(close) if close else "", len(published_names())))
        close = difflib.get_close_matches(str(name), sorted(known | set(published_names())), n=6, cutoff=0.6)
        raise UnknownModel("unknown model %r%s" % (name, "; did you mean: %s?" % ", ".join(close) if close else
                                                   "; see gluon_tricks.list_models()"))
    if version is True:
        return found[0]
    tag = str(version).lower()
    for e in found:
        if e.tag == tag or (e.sha1 and e.sha1 == tag):
            return e
    raise ZooError("%s has no published version %r; its versions: %s" % (
        name, version, ", ".join("%s%s" % (e.tag, " (default)" if e.default else "") for e in found)))
