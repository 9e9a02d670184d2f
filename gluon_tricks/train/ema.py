"""Moving averages of the weights: an exponential moving average evaluated beside them (Polyak
averaging; timm's ModelEma), and Lookahead, whose average is written back into the weights."""
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

    def update(self, decay=None):
        decay = self.decay if decay is None else decay
        for name, p in self.params.items():
            s = self.shadow[name]
            s[:] = decay * s + (1 - decay) * self._weight(p)

    def write_back(self):
        """Put the average into the network for good (on every device)."""
        for k, p in self.params.items():
            p.set_data(self.shadow[k].astype(p.dtype))

    @contextmanager
    def applied(self):
        """Temporarily put the averaged weights into the network (for evaluation or saving)."""
        saved = {k: p.data(self.ctx).copy() for k, p in self.params.items()}
        self.write_back()
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


class Lookahead:
    """Every ``every`` steps the weights (BN statistics included) are pulled toward a slow average
    and the average is written back: slow = d * slow + (1 - d) * w, then w = slow (Zhang et al.'s
    Lookahead, as airbench schedules it). ``d = decay * (t / total) ** 3`` is near 0 early, when
    the weights should move freely, and reaches ``decay`` at the end; the last step (t = total)
    replaces the weights by the average (d = 1), so the final network is the average."""

    def __init__(self, net, total_steps, every=5, decay=0.95 ** 5, ctx=None):
        if every < 1 or total_steps < 1:
            raise BadInput("Lookahead needs every >= 1 and total_steps >= 1, got %d and %d" % (every, total_steps))
        if not 0 < decay < 1:
            raise BadInput("Lookahead decay must be in (0, 1), got %g" % decay)
        self.total, self.every, self.decay = total_steps, every, decay
        self.average = WeightEMA(net, decay, ctx)

    def decay_at(self, step):
        return 1.0 if step >= self.total else self.decay * (step / self.total) ** 3

    def step(self, step):
        """After optimizer step number ``step`` (counting from 1)."""
        if step % self.every and step < self.total:
            return
        self.average.update(self.decay_at(step))
        self.average.write_back()
