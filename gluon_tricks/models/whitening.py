"""Patch-whitening initialisation of a network's first convolution (Jordan's airbench, after
tysam's hlb-CIFAR10): its filters become the principal directions of the training images' k x k
patches, each scaled to unit variance and paired with its negative so a ReLU after it keeps both
signs, and the layer is then frozen. The first layer starts where training would take it, and its
weight gradient is never computed."""
import numpy as np
from mxnet.gluon import nn
from ..errors import BadInput


def patch_whitening(images, kernel, channels, eps=5e-4):
    """(channels, C, kernel, kernel) filters from ``images`` (N, C, H, W, normalised as the network
    sees them): the ``channels // 2`` directions of largest variance, divided by their standard
    deviation, then the same filters negated."""
    if channels % 2:
        raise BadInput("patch whitening pairs each filter with its negative: %d channels is odd" % channels)
    n, c, h, w = images.shape
    if h < kernel or w < kernel:
        raise BadInput("%dx%d images are smaller than the %dx%d kernel" % (h, w, kernel, kernel))
    dims = c * kernel * kernel
    if channels // 2 > dims:
        raise BadInput("%d channels need %d directions; %dx%d patches of %d channels have only %d"
                       % (channels, channels // 2, kernel, kernel, c, dims))
    patches = np.lib.stride_tricks.sliding_window_view(images, (kernel, kernel), axis=(2, 3))
    patches = patches.transpose(0, 2, 3, 1, 4, 5).reshape(-1, dims).astype(np.float64)
    patches -= patches.mean(axis=0)
    values, vectors = np.linalg.eigh(patches.T @ patches / len(patches))  # ascending
    top = np.argsort(values)[::-1][:channels // 2]
    filters = (vectors[:, top] / np.sqrt(values[top] + eps)).T.reshape(-1, c, kernel, kernel)
    return np.concatenate([filters, -filters]).astype(np.float32)


def first_conv(net):
    """The first ``nn.Conv2D`` in registration order (the stem of every network in the registry)."""
    found = []

    def visit(block):
        if not found and isinstance(block, nn.Conv2D):
            found.append(block)
        for child in block._children.values():
            visit(child)
    visit(net)
    if not found:
        raise BadInput("%s has no Conv2D to whiten" % type(net).__name__)
    return found[0]


def whiten_first_conv(net, images, eps=5e-4):
    """Set ``net``'s first convolution to :func:`patch_whitening` of ``images`` and freeze it
    (``grad_req='null'``: trainers skip it). Returns the layer."""
    conv = first_conv(net)
    weight = conv.weight
    out_channels, in_channels, kh, kw = weight.shape
    if kh != kw or in_channels != images.shape[1]:
        raise BadInput("cannot whiten %s: weight %s, images of %d channels"
                       % (conv.name, weight.shape, images.shape[1]))
    weight.set_data(patch_whitening(images, kh, out_channels, eps))
    weight.grad_req = "null"
    if conv.bias is not None:
        conv.bias.set_data(np.zeros(conv.bias.shape, np.float32))
    return conv
