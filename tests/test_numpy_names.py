"""The numpy names MXNet 1.9.1 reads, restored only where numpy lacks them (gluon_tricks/numpy_names.py).
Runs on every numpy the suite runs on: 2.x on Python 3.11 and 3.13 in CI."""
import math
import subprocess
import sys
import types
import warnings

import numpy
import pytest

from gluon_tricks import numpy_names
from gluon_tricks.numpy_names import FINANCIAL, NAMES, RENAMED, restore


def bare_module():
    """A module with none of the names, as numpy 2.x is for most of them."""
    return types.ModuleType("numpy_without_them")


def test_each_name_is_restored_with_the_meaning_numpy_gave_it():
    module = bare_module()
    assert sorted(restore(module)) == sorted(NAMES)
    assert (module.bool, module.int, module.float, module.complex, module.object, module.str) == \
        (bool, int, float, complex, object, str)
    assert module.PZERO == 0.0 and math.copysign(1, module.PZERO) == 1
    assert module.NZERO == 0.0 and math.copysign(1, module.NZERO) == -1
    assert module.PINF == math.inf and module.Inf == math.inf and module.NINF == -math.inf
    assert math.isnan(module.NAN) and math.isnan(module.NaN)
    a = numpy.array([[3, 1], [2, 5]])
    numpy.testing.assert_array_equal(module.in1d(a, [1, 5]), [False, True, False, True])  # flattened, unlike isin
    numpy.testing.assert_array_equal(module.in1d(a, [1, 5], invert=True), [True, False, True, False])
    numpy.testing.assert_array_equal(module.msort(a), [[2, 1], [3, 5]])  # along the first axis
    assert module.alltrue([1, 1, 0]) == False and module.alltrue([[1, 0], [1, 1]], axis=1).tolist() == [False, True]  # noqa: E712
    assert module.sometrue([0, 0, 1]) == True and module.sometrue([0, 0]) == False  # noqa: E712
    assert module.product([2, 3, 4]) == 24 and module.round_(2.567, 1) == pytest.approx(2.6)
    assert module.trapz([1.0, 2.0, 3.0]) == pytest.approx(4.0) and module.trapz([0, 1], x=[0, 4]) == pytest.approx(2)
    for name in FINANCIAL:
        with pytest.raises(RuntimeError, match="numpy_financial.%s" % name):
            getattr(module, name)(0.1, 10)


def test_renamed_functions_are_functions_of_their_own():
    """MXNet keys its __array_function__ table by numpy function: an alias of numpy.any would take
    numpy.any's entry away."""
    module = bare_module()
    restore(module)
    for old, new in RENAMED.items():
        assert getattr(module, old) is not getattr(numpy, new) and getattr(module, old).__name__ == old


def test_a_name_the_module_has_is_never_replaced():
    module = bare_module()
    module.bool, module.PZERO, module.trapz = "its own bool", "its own PZERO", "its own trapz"
    restored = restore(module)
    assert {"bool", "PZERO", "trapz"}.isdisjoint(restored)
    assert (module.bool, module.PZERO, module.trapz) == ("its own bool", "its own PZERO", "its own trapz")


def test_a_name_numpy_still_serves_with_a_deprecation_warning_is_left_as_it_is():
    """numpy 1.20-1.23 answer numpy.int through __getattr__, with a warning: that counts as present."""
    module = bare_module()

    def deprecated(name):
        if name == "int":
            warnings.warn("numpy.int is deprecated", DeprecationWarning)
            return "numpy's int"
        raise AttributeError(name)
    module.__getattr__ = deprecated
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # restore() itself must not let the warning out
        restored = restore(module)
    assert "int" not in restored and "float" in restored
    assert "int" not in vars(module)


def test_on_the_installed_numpy_every_name_answers_and_numpys_own_are_untouched():
    """Importing gluon_tricks (conftest does) left numpy with every name; those numpy defines itself
    are numpy's, not ours (numpy 2 has its own numpy.bool, the scalar type)."""
    for name in NAMES:
        assert numpy_names.present(numpy, name), name
    ours = {name for name in NAMES if vars(numpy).get(name) is NAMES[name]}
    fresh = subprocess.run([sys.executable, "-c", "import numpy, warnings; warnings.simplefilter('ignore'); "
                            "print(' '.join(n for n in %r if not hasattr(numpy, n)))" % sorted(NAMES)],
                           capture_output=True, text=True, check=True).stdout.split()
    assert ours == set(fresh)  # exactly the names a fresh numpy lacks
    if int(numpy.__version__.split(".")[0]) >= 2:
        assert numpy.bool is numpy.bool_


def test_mxnet_runs_on_this_numpy():
    import mxnet as mx
    from mxnet.numpy import fallback
    assert fallback.alltrue([True, False]) == False  # noqa: E712  (MXNet's binding of a restored name)
    x = mx.nd.array(numpy.arange(6, dtype="float32").reshape(2, 3))
    assert (x * 2).sum().asscalar() == 30.0


def test_recordio_packs_array_labels_and_images_on_this_numpy():
    """MXNet's pack and pack_img call ndarray.tostring (gone since numpy 2.3): replaced there, and
    what they write reads back through MXNet's own unpack."""
    import mxnet as mx
    from mxnet import recordio
    replaced = not hasattr(numpy.ndarray, "tostring")
    assert (recordio.pack.__module__ == "gluon_tricks.numpy_names") == replaced
    header, payload = recordio.unpack(recordio.pack(recordio.IRHeader(0, [1.5, 2.0, 7.0], 3, 0), b"data"))
    assert header.flag == 3 and header.label.tolist() == [1.5, 2.0, 7.0] and header.id == 3 and payload == b"data"
    header, payload = recordio.unpack(recordio.pack(recordio.IRHeader(0, 4.0, 9, 0), b"x"))
    assert header.flag == 0 and header.label == 4.0 and payload == b"x"
    img = (numpy.arange(8 * 8 * 3) % 251).astype("uint8").reshape(8, 8, 3)
    header, back = recordio.unpack_img(recordio.pack_img(recordio.IRHeader(0, 2.0, 1, 0), img, img_fmt=".png"))
    assert header.label == 2.0 and numpy.array_equal(back, img)  # PNG: lossless
    assert mx.recordio.pack is recordio.pack
