"""The weight initialisers a recipe names (``init``)."""
import mxnet as mx
import numpy as np


MSRA = dict(rnd_type="gaussian", factor_type="in", magnitude=2)  # He et al. 2015: Gaussian, variance 2 / fan-in


@mx.init.register
class DiracMSRA(mx.init.Xavier):
    """MSRA, then each convolution's first min(in, out) filters set to the identity (the centre
    tap of their own channel 1, all else 0), as airbench initialises its convolutions: each layer
    starts by passing its input through, plus new random channels, so a short run spends no steps
    learning to preserve what the previous layer found. Dense layers stay MSRA."""

    def __init__(self):
        super().__init__(**MSRA)

    def _init_weight(self, name, arr):
        super()._init_weight(name, arr)
        if arr.ndim != 4:
            return
        out_channels, in_channels, kh, kw = arr.shape
        w = arr.asnumpy()
        n = min(out_channels, in_channels)
        w[:n] = 0
        w[np.arange(n), np.arange(n), kh // 2, kw // 2] = 1
        arr[:] = w


INITIALIZERS = {"msra": lambda: mx.init.Xavier(**MSRA), "xavier": lambda: mx.init.Xavier(), "dirac": DiracMSRA}
