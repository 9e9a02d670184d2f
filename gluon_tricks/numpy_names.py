"""The numpy names MXNet 1.9.1 and GluonCV read that newer numpy releases removed.

MXNet 1.9.1 binds numpy attributes at import (``mxnet/numpy/utils.py``, ``fallback.py``) that numpy
1.24 and 2.0 took away. Nothing in MXNet's compiled library depends on numpy's version, so putting
those names back before ``import mxnet`` is all it takes to run MXNet on numpy 1.24 through 2.x (and
so on Python 3.12 and 3.13, where older numpy has no wheels). ``import gluon_tricks`` does it first;
code that imports mxnet itself should import gluon_tricks before it.

Only missing names are set: a name numpy still has, even through a deprecation warning, is left as
numpy defines it.
"""
import math
import warnings


def _in1d(ar1, ar2, assume_unique=False, invert=False):
    import numpy
    return numpy.isin(numpy.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)


def _msort(a):
    import numpy
    return numpy.sort(a, axis=0)


def _renamed(old, new):
    """A function of its own (MXNet keys its dispatch table by function) that calls numpy's new name."""
    def call(*args, **kwargs):
        import numpy
        return getattr(numpy, new)(*args, **kwargs)
    call.__name__ = old
    call.__doc__ = "numpy.%s, under the name numpy < 2 also gave it." % new
    return call


def _financial(name):
    def removed(*args, **kwargs):
        raise RuntimeError("numpy.%s was removed from numpy in 1.20; use numpy_financial.%s" % (name, name))
    removed.__name__ = name
    return removed


# Each name as numpy < 1.24 defined it: the builtin type aliases, the float constants, and the
# functions through the names that replaced them. The financial functions left numpy in 1.20,
# whose stand-ins raised when called; MXNet only binds them.
RENAMED = dict(alltrue="all", sometrue="any", product="prod", round_="round", trapz="trapezoid")
FINANCIAL = ("fv", "ipmt", "irr", "mirr", "nper", "npv", "pmt", "ppmt", "pv", "rate")
NAMES = dict(
    bool=bool, int=int, float=float, complex=complex, object=object, str=str,
    PZERO=0.0, NZERO=-0.0, PINF=math.inf, NINF=-math.inf, NAN=math.nan, NaN=math.nan, Inf=math.inf,
    in1d=_in1d, msort=_msort,
    **{old: _renamed(old, new) for old, new in RENAMED.items()},
    **{name: _financial(name) for name in FINANCIAL})


def present(module, name):
    """Whether the module answers to the name, deprecated or not (numpy's __getattr__ warns for some)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            getattr(module, name)
        except AttributeError:
            return False
    return True


def restore(module=None):
    """Sets each name of NAMES that the module (numpy by default) lacks; returns the names set."""
    if module is None:
        import numpy as module
    restored = [name for name in NAMES if not present(module, name)]
    for name in restored:
        setattr(module, name, NAMES[name])
    return restored
