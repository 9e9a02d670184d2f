"""What a network costs, from its graph alone: parameters and multiply-adds per image."""
import json

import mxnet as mx
import numpy as np


def complexity(net, shape):
    """(parameters, multiply-adds per image) of a Gluon network, from its graph's shapes: every
    Convolution and FullyConnected counts weight elements x output positions (the convention
    under which ResNet-50 is "4.1 GFLOPs")."""
    data = mx.sym.var("data")
    sym = net(data)
    if isinstance(sym, (list, tuple)):
        sym = sym[0]
    internals = sym.get_internals()
    arg_shapes, out_shapes, aux_shapes = internals.infer_shape(data=(1,) + tuple(shape))
    outputs = dict(zip(internals.list_outputs(), out_shapes))
    args = dict(zip(internals.list_arguments(), arg_shapes))
    params = sum(int(np.prod(s)) for name, s in args.items() if name != "data")
    nodes = json.loads(sym.tojson())["nodes"]
    macs = 0
    for node in nodes:
        if node["op"] not in ("Convolution", "FullyConnected"):
            continue
        weight = nodes[node["inputs"][1][0]]["name"]
        out = outputs[node["name"] + "_output"]
        positions = int(np.prod(out[2:])) if node["op"] == "Convolution" else 1
        macs += int(np.prod(args[weight])) * positions
    return params, macs


def training_flop(net, channels, sizes, images_per_epoch):
    """Floating-point operations of training ``net`` for ``len(sizes)`` epochs, epoch ``e`` at
    ``sizes[e]`` px: per image 3 passes (forward, gradients of inputs, gradients of weights) of
    2 FLOP per multiply-add of :func:`complexity`. The same count on every CPU, so a recipe that
    needs fewer is faster by that factor everywhere the convolutions dominate."""
    macs = {s: complexity(net, (channels, s, s))[1] for s in set(sizes)}
    return sum(6 * macs[s] * images_per_epoch for s in sizes)
