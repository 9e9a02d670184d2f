"""Inception-V3 (Szegedy et al. 2016), the third network of the Bag-of-Tricks paper's Table 6, in
GluonCV's parameter layout so its ImageNet files load as they are.

Each mixed block is written as data: a list of branches run side by side and concatenated on the
channels; a branch is a chain of convolutions ``(channels, kernel, stride, padding)``, optionally after a
pooling step, and a fork (:func:`fork`) ends a branch in two parallel convolutions.

Like GluonCV's, this network has no auxiliary classifier: its published weights were trained without one,
so the loss is the main head's alone. Global average pooling replaces GluonCV's fixed 8x8 pool (the same
numbers at the native 299 px, and any other input size works)."""
from mxnet.gluon import HybridBlock, nn
from mxnet.gluon.contrib.nn import HybridConcurrent

from .layers import GlobalAvgPool, add_conv_bn, refuse_zero_gamma

AVG, MAX = "avg", "max"  # a branch's pooling step: 3x3 stride-1 average, or 3x3 stride-2 max


def fork(chain, *heads):
    """A branch that runs ``chain`` and then each head (a single conv) in parallel."""
    return ("fork", chain, heads)


def mixed_a(pool_features):
    return [[(64, 1)], [(48, 1), (64, 5, 1, 2)], [(64, 1), (96, 3, 1, 1), (96, 3, 1, 1)], [AVG, (pool_features, 1)]]


MIXED_B = [[(384, 3, 2)], [(64, 1), (96, 3, 1, 1), (96, 3, 2)], [MAX]]


def mixed_c(c7):
    row, col = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
    return [[(192, 1)], [(c7, 1), (c7, *row), (192, *col)],
            [(c7, 1), (c7, *col), (c7, *row), (c7, *col), (192, *row)], [AVG, (192, 1)]]


MIXED_D = [[(192, 1), (320, 3, 2)], [(192, 1), (192, (1, 7), 1, (0, 3)), (192, (7, 1), 1, (3, 0)), (192, 3, 2)], [MAX]]
_SPLIT = ((384, (1, 3), 1, (0, 1)), (384, (3, 1), 1, (1, 0)))
MIXED_E = [[(320, 1)], fork([(384, 1)], *_SPLIT), fork([(448, 1), (384, 3, 1, 1)], *_SPLIT), [AVG, (192, 1)]]

# The network after its stem: GluonCV's A1-A3, B, C1-C4, D, E1-E2.
MIXED = [mixed_a(32), mixed_a(64), mixed_a(64), MIXED_B, mixed_c(128), mixed_c(160), mixed_c(160), mixed_c(192),
         MIXED_D, MIXED_E, MIXED_E]


class Inception3(HybridBlock):
    """Inception-V3 for 299 px inputs: a five-conv stem with two max-pools, eleven mixed blocks,
    global average pooling, dropout 0.5 and the classifier. BNs use epsilon 0.001, as trained;
    ``fused_bn_relu`` runs each BN + ReLU as one oneDNN operator (weights load either way)."""

    def __init__(self, classes=1000, dropout=0.5, last_gamma=False, fused_bn_relu=False, norm_layer=nn.BatchNorm,
                 norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        refuse_zero_gamma(last_gamma, "Inception-V3")
        self._norm = dict(norm_layer=norm_layer, norm_kwargs=dict(norm_kwargs or {}, epsilon=1e-3),
                          fused_bn_relu=fused_bn_relu)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            for step in ((32, 3, 2), (32, 3), (64, 3, 1, 1), MAX, (80, 1), (192, 3), MAX):
                self.features.add(nn.MaxPool2D(3, 2) if step == MAX else self._conv(*step))
            for branches in MIXED:
                block = HybridConcurrent(axis=1, prefix="")
                for branch in branches:
                    block.add(self._branch(branch))
                self.features.add(block)
            self.features.add(GlobalAvgPool(), nn.Dropout(dropout))
            self.output = nn.Dense(classes)

    def _conv(self, channels, kernel, stride=1, padding=0):
        seq = nn.HybridSequential(prefix="")
        add_conv_bn(seq, channels, kernel, stride, padding=padding, **self._norm)
        return seq

    def _branch(self, branch):
        seq = nn.HybridSequential(prefix="")
        if isinstance(branch, tuple):  # a fork: the chain, then its heads side by side
            _, chain, heads = branch
            seq.add(self._branch(chain))
            split = HybridConcurrent(axis=1, prefix="")
            for head in heads:
                split.add(self._branch([head]))
            seq.add(split)
            return seq
        for step in branch:
            if step == AVG:
                seq.add(nn.AvgPool2D(3, 1, 1))
            elif step == MAX:
                seq.add(nn.MaxPool2D(3, 2))
            else:
                seq.add(self._conv(*step))
        return seq

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))
