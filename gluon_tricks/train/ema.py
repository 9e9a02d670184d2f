"""Exponential moving average of the weights (Polyak averaging; timm's ModelEma)."""
from contextlib import contextmanager

import mxnet as mx
from ..errors import BadInput


class WeightEMA:
    """ema = decay * ema + (1 - decay) * w after every update, for every parameter including BN
    statistics, kept in float32 on ``ctx`` (the first device) whatever the network's dtype.
    Updates are queued device ops (no host sync)."""

    def __init__(self, net, decay=0.9999, ctx=None):
        if not 0 < decay < 1:
            raise BadInput("EMA decay must be in (0, 1), got %g" % decay)
        self.decay = decay
        self.params = net._collect_params_with_prefix()
        self.ctx = ctx or next(iter(self.params.values())).list_ctx()[0]
        self.shadow = {k: self._weight(p).copy() for k, p in self.params.items()}

    def _weight(self, p):
        return p.data(self.ctx).astype("float32", copy=False)

    def update(self):
        for name, p in self.params.items():
            s = self.shadow[name]
            s[:] = self.decay * s + (1 - self.decay) * self._weight(p)

    @contextmanager
    def applied(self):
        """Temporarily put the averaged weights into the network (for evaluation or saving)."""
        saved = {k: p.data(self.ctx).copy() for k, p in self.params.items()}
        for k, p in self.params.items():
            p.set_data(self.shadow[k].astype(p.dtype))
        try:
            yield
        finally:
            for k, p in self.params.items():
                p.set_data(saved[k])

    def save(self, path):
        mx.nd.save(path, self.shadow)

    def load(self, path):
        loaded = mx.nd.load(path)
        missing = set(self.shadow) - set(loaded)
        if missing:
            raise BadInput("EMA file %s lacks %d parameters, e.g. %s" % (path, len(missing), sorted(missing)[0]))
        for k in self.shadow:
            self.shadow[k][:] = loaded[k]
