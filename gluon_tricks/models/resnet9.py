"""ResNet-9 of Myrtle.ai's "How to train your ResNet" (DAWNBench CIFAR-10, 94% in 24 epochs).

Conv-BN-ReLU blocks, 64-128-256-512 channels, max-pooling instead of strided convolutions,
residual pairs after the 128- and 512-channel layers, a global max-pool and a classifier whose
output is scaled by 0.125 (Page found the scale lets a high learning rate train stably)."""
from mxnet.gluon import HybridBlock, nn
from ..errors import BadInput


def _conv_bn(channels, pool=False, fused=False, pool_first=False, scale=True):
    block = nn.HybridSequential(prefix="")
    block.add(nn.Conv2D(channels, 3, padding=1, use_bias=False))
    if pool and pool_first:
        block.add(nn.MaxPool2D(2))
    if fused:
        block.add(nn.BatchNormReLU(scale=scale))
    else:
        block.add(nn.BatchNorm(scale=scale), nn.Activation("relu"))
    if pool and not pool_first:
        block.add(nn.MaxPool2D(2))
    return block


class _Residual(HybridBlock):
    def __init__(self, channels, fused=False, scale=True, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.body = nn.HybridSequential(prefix="")
            self.body.add(_conv_bn(channels, fused=fused, scale=scale), _conv_bn(channels, fused=fused, scale=scale))

    def hybrid_forward(self, F, x):
        return x + self.body(x)


class ResNet9(HybridBlock):
    """``channels`` are the prep layer's and the three stages' widths; ``fused_bn_relu`` runs each
    BN + ReLU as MXNet's one oneDNN operator (the same parameters: weights load either way).
    ``space_to_depth=2`` folds each 2x2 patch of the input into channels (lossless) and drops the
    first stage's pooling: the prep layer and the first stage run at half the resolution, so the
    network skips its costliest, most memory-bound full-size activations. ``pool_first`` pools each
    pooled layer's convolution output before its BN + ReLU (airbench's order), so those run on a
    quarter of the elements; ``prep_layer=False`` drops the prep layer (the first stage's
    convolution then sees the image itself): 1.41x faster steps together, but on Fashion-MNIST they
    cost more accuracy than the time buys (docs/results/time_to_accuracy.rst). ``pool_first`` keeps every
    parameter and its name (weights load either way). ``bn_scale=False`` freezes every BN scale at 1
    (airbench: after a convolution the scale only rescales what the next BN normalises away, so
    only the biases need to learn; recipes then raise the biases' lr with ``bn_bias_lr_mult``)."""

    def __init__(self, classes=10, channels=(64, 128, 256, 512), scale=0.125, fused_bn_relu=False, space_to_depth=1,
                 pool_first=False, prep_layer=True, bn_scale=True, **kwargs):
        super().__init__(**kwargs)
        if space_to_depth not in (1, 2):
            raise BadInput("space_to_depth must be 1 (off) or 2, got %r" % (space_to_depth,))
        self._scale, self._block = scale, space_to_depth
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            c0, c1, c2, c3 = channels
            f, p, g = fused_bn_relu, pool_first, bn_scale
            if prep_layer:
                self.features.add(_conv_bn(c0, fused=f, scale=g))
            self.features.add(_conv_bn(c1, space_to_depth == 1, f, p, g), _Residual(c1, f, g),
                              _conv_bn(c2, True, f, p, g), _conv_bn(c3, True, f, p, g), _Residual(c3, f, g),
                              nn.GlobalMaxPool2D(), nn.Flatten())
            self.fc = nn.Dense(classes, use_bias=False)

    def hybrid_forward(self, F, x):
        if self._block > 1:
            x = F.space_to_depth(x, block_size=self._block)
        return self.fc(self.features(x)) * self._scale
