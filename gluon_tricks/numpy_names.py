"""The numpy names MXNet 1.9.1 and GluonCV read that newer numpy releases removed, and the two
MXNet functions that call a removed numpy method.

MXNet 1.9.1 binds numpy attributes at import (``mxnet/numpy/utils.py``, ``fallback.py``) that numpy
1.24 and 2.0 took away. Nothing in MXNet's compiled library depends on numpy's version, so putting
those names back before ``import mxnet`` is all it takes to run MXNet on numpy 1.24 through 2.x (and
so on Python 3.12 and 3.13, where older numpy has no wheels). ``import gluon_tricks`` does it first;
code that imports mxnet itself should import gluon_tricks before it.

Only missing names are set: a name numpy still has, even through a deprecation warning, is left as
numpy defines it.
"""
import math
import numbers
import struct
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


def restore_recordio(recordio):
    """``mxnet.recordio.pack`` (for array labels) and ``pack_img`` call ``ndarray.tostring``, which
    numpy 2.3 removed and whose type takes no new methods: where it is gone, both are replaced by
    the same record format written with ``tobytes``. Returns whether they were."""
    import numpy
    if hasattr(numpy.ndarray, "tostring"):
        return False

    def pack(header, s):
        header = recordio.IRHeader(*header)
        if isinstance(header.label, numbers.Number):
            header = header._replace(flag=0)
        else:  # the labels go before the payload, their count in flag
            label = numpy.asarray(header.label, dtype=numpy.float32)
            header, s = header._replace(flag=label.size, label=0), label.tobytes() + s
        return struct.pack(recordio._IR_FORMAT, *header) + s

    def pack_img(header, img, quality=95, img_fmt=".jpg"):
        import cv2
        kind = img_fmt.upper()
        params = ([cv2.IMWRITE_JPEG_QUALITY, quality] if kind in (".JPG", ".JPEG")
                  else [cv2.IMWRITE_PNG_COMPRESSION, quality] if kind == ".PNG" else None)
        ok, buf = cv2.imencode(img_fmt, img, params)
        if not ok:
            raise ValueError("OpenCV could not encode the image as %s" % img_fmt)
        return pack(header, buf.tobytes())

    pack.__doc__, pack_img.__doc__ = recordio.pack.__doc__, recordio.pack_img.__doc__
    recordio.pack, recordio.pack_img = pack, pack_img
    return True
