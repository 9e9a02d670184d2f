"""Inception-V3 (Szegedy et al. 2016), the third network of the Bag-of-Tricks paper's Table 6, in
GluonCV's parameter layout so its ImageNet files load as they are.

Each mixed block is written as data: a list of branches run side by side and concatenated on the
channels; a branch is a list of steps (:class:`Conv`, or a :class:`Pool` first), or a :class:`Fork` that
ends a chain in parallel convolutions.

Like GluonCV's, this network has no auxiliary classifier: its published weights were trained without one,
so the loss is the main head's alone. Global average pooling replaces GluonCV's fixed 8x8 pool (the same
numbers at the native 299 px, and any other input size works)."""
from typing import NamedTuple, Tuple, Union

from mxnet.gluon import HybridBlock, nn
from mxnet.gluon.contrib.nn import HybridConcurrent

from .layers import GlobalAvgPool, add_conv_bn, refuse_zero_gamma

class Conv(NamedTuple):
    """A convolution step: conv (no bias) + BN + ReLU."""
    channels: int
    kernel: Union[int, Tuple[int, int]]
    stride: int = 1
    padding: Union[int, Tuple[int, int]] = 0


class Pool(NamedTuple):
    """A pooling step: 3x3 stride-1 average ("avg", padded) or 3x3 stride-2 max ("max")."""
    kind: str


class Fork(NamedTuple):
    """A branch that runs ``chain`` and then each head (a single :class:`Conv`) side by side."""
    chain: list
    heads: tuple


AVG, MAX = Pool("avg"), Pool("max")


def mixed_a(pool_features):
    return [[Conv(64, 1)], [Conv(48, 1), Conv(64, 5, 1, 2)], [Conv(64, 1), Conv(96, 3, 1, 1), Conv(96, 3, 1, 1)],
            [AVG, Conv(pool_features, 1)]]


MIXED_B = [[Conv(384, 3, 2)], [Conv(64, 1), Conv(96, 3, 1, 1), Conv(96, 3, 2)], [MAX]]


def mixed_c(c7):
    row, col = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
    return [[Conv(192, 1)], [Conv(c7, 1), Conv(c7, *row), Conv(192, *col)],
            [Conv(c7, 1), Conv(c7, *col), Conv(c7, *row), Conv(c7, *col), Conv(192, *row)], [AVG, Conv(192, 1)]]


MIXED_D = [[Conv(192, 1), Conv(320, 3, 2)],
           [Conv(192, 1), Conv(192, (1, 7), 1, (0, 3)), Conv(192, (7, 1), 1, (3, 0)), Conv(192, 3, 2)], [MAX]]
_SPLIT = (Conv(384, (1, 3), 1, (0, 1)), Conv(384, (3, 1), 1, (1, 0)))
MIXED_E = [[Conv(320, 1)], Fork([Conv(384, 1)], _SPLIT), Fork([Conv(448, 1), Conv(384, 3, 1, 1)], _SPLIT),
           [AVG, Conv(192, 1)]]
STEM = [Conv(32, 3, 2), Conv(32, 3), Conv(64, 3, 1, 1), MAX, Conv(80, 1), Conv(192, 3), MAX]

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
            for step in STEM:
                self.features.add(self._step(step))
            for branches in MIXED:
                block = HybridConcurrent(axis=1, prefix="")
                for branch in branches:
                    block.add(self._branch(branch))
                self.features.add(block)
            self.features.add(GlobalAvgPool(), nn.Dropout(dropout))
            self.output = nn.Dense(classes)

    def _step(self, step):
        if isinstance(step, Pool):
            return nn.AvgPool2D(3, 1, 1) if step.kind == "avg" else nn.MaxPool2D(3, 2)
        seq = nn.HybridSequential(prefix="")
        add_conv_bn(seq, step.channels, step.kernel, step.stride, padding=step.padding, **self._norm)
        return seq

    def _branch(self, branch):
        seq = nn.HybridSequential(prefix="")
        if isinstance(branch, Fork):
            seq.add(self._branch(branch.chain))
            split = HybridConcurrent(axis=1, prefix="")
            for head in branch.heads:
                split.add(self._branch([head]))
            seq.add(split)
            return seq
        for step in branch:
            seq.add(self._step(step))
        return seq

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))
