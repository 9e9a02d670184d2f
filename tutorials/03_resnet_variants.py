"""
ResNet-A, B, C and D side by side
=================================

The paper's three tweaks change where ResNet-50 downsamples and what its stem is. Here they are
read off the real blocks of our one ResNet class, with their cost counted from the graph and
their speed measured on this machine.
"""

# %%
# One class, four settings
# ------------------------
# A registry name is :class:`~gluon_tricks.models.ResNet` plus a few settings
# (:func:`gluon_tricks.models.model_settings`); GluonCV's names are kept, so its weights load.
from gluon_tricks import get_model, models

names = {"A": "resnet50_v1", "B": "resnet50_v1b", "C": "resnet50_v1c", "D": "resnet50_v1d"}
for letter, name in names.items():
    print("ResNet-%s = %-13s %s" % (letter, name, models.model_settings(name)))

# %%
# B: downsample in the 3x3 convolution
# ------------------------------------
# ResNet-A's first bottleneck of a stage strides its 1x1 convolution, which skips three quarters
# of the input; B moves the stride to the 3x3 convolution, which sees all of it.
for letter in ("A", "B"):
    unit = get_model(names[letter]).layer2[0]
    print("ResNet-%s, stage 2, first block:" % letter,
          ", ".join("%s stride %s" % (k, c._kwargs["stride"][0]) for k, c in unit._children.items()
                    if k.startswith("conv")))

# %%
# C: a deep stem
# --------------
# The 7x7 convolution of the stem becomes three 3x3 convolutions (32, 32, 64 channels).
print("ResNet-B stem:", get_model(names["B"]).conv1)
print("ResNet-C stem:", get_model(names["C"]).conv1)

# %%
# D: average pooling on the shortcut
# ----------------------------------
# The projection shortcut of a downsampling block is a strided 1x1 convolution, which again skips
# three quarters of its input; D averages 2x2 first and projects with stride 1.
print("ResNet-C shortcut:", get_model(names["C"]).layer2[0].downsample)
print("ResNet-D shortcut:", get_model(names["D"]).layer2[0].downsample)

# %%
# What they cost, and what they buy
# ---------------------------------
# Parameters and multiply-adds are counted from each graph at 224 px
# (:func:`gluon_tricks.models.complexity.complexity`); top-1 is GluonCV's published ImageNet
# accuracy for the weights ``get_model(name, pretrained=True)`` loads (the paper's own Table 5
# reads 76.21, 76.66, 76.87 and 77.16 for its A to D). The forward+backward time is measured here
# at batch 2 and 128 px to keep the page fast: compare the ratios, not the absolute times.
import mxnet as mx

from gluon_tricks.benchmark import forward_backward_ms, published_top1
from gluon_tricks.machine import machine_info
from gluon_tricks.models.complexity import complexity

print("machine:", machine_info()["cpu"])
print("%-8s %-13s %10s %8s %14s %10s" % ("variant", "name", "params (M)", "GMACs", "fwd+bwd ms", "top-1 %"))
base = None
for letter, name in names.items():
    net = get_model(name)
    net.initialize(mx.init.Xavier())
    params, macs = complexity(net, (3, 224, 224))
    net.hybridize(static_alloc=True, static_shape=True)
    ms = forward_backward_ms(net, 2, (3, 128, 128), iters=5, warmup=3)
    base = base or ms
    print("%-8s %-13s %10.2f %8.2f %8.0f (%.2fx) %10s" % (letter, name, params / 1e6, macs / 1e9, ms, ms / base,
                                                           published_top1(name)))

# %%
# fb.resnet.torch's block switches
# --------------------------------
# Two more changes to the residual unit are settings too: ``bn_after_add=True`` moves a unit's last
# batch norm from its branch onto the sum, ``relu_after_add=False`` leaves the sum without its ReLU.
# Gross and Wilber (fb.resnet.torch) found both worse on CIFAR-10. Our grid
# (``scripts/ablate.py --grid fb-blocks``, cifar_resnet20_v1b, 12 epochs on 10,000 Fashion-MNIST images,
# 3 seeds; :doc:`/results/ablations`) finds that at that budget neither separates from the seeds' spread. Each switch reorders a
# unit's operators (read off its traced graph) and keeps its parameters, so one weights file loads into all:
import json


def unit_ops(**switches):
    unit = get_model("cifar_resnet20_v1b", classes=10, **switches).layer1[0]
    nodes = json.loads(unit(mx.sym.var("x")).tojson())["nodes"]
    return [n["op"] for n in nodes if n["op"] != "null"], len(unit.collect_params().keys())


for switches in ({}, {"bn_after_add": True}, {"relu_after_add": False}):
    ops, count = unit_ops(**switches)
    print("%-26s %d parameters: %s" % (switches or "baseline", count, " > ".join(ops)))
