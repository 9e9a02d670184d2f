"""
Quick start: a published model, then a short training run
==========================================================

Load the Fashion-MNIST model this repository publishes, classify real test images with it, then
train a small ResNet-D for half a minute with the tricks switched on and plot its curves. It all
runs on the CPU from files already on the machine.
"""

# %%
# A published model
# -----------------
# :func:`gluon_tricks.get_model` builds a registry network and, with ``pretrained=True``, loads its
# default published weights, sha1-checked. ``fashion_mnist_resnet20_v1b`` ships in ``model_zoo/``,
# so no network is needed; GluonCV's ImageNet and CIFAR weights load the same way (downloaded once).
import matplotlib.pyplot as plt
import mxnet as mx
import numpy as np

from gluon_tricks import get_model, list_models

print(list_models("fashion*", pretrained=True))
net = get_model("fashion_mnist_resnet20_v1b", pretrained=True)
print(net.classes)
print("input: %d channel(s), %d px, mean %s, std %s (0-255 scale)" % (
    net.inputs.channels, net.inputs.input_size, net.inputs.mean, net.inputs.std))

# %%
# Classify real test images
# -------------------------
# The network expects what it was trained on: 28x28 grayscale images normalised with the
# training set's mean and standard deviation, which ``net.inputs`` carries.
from gluon_tricks.data import load_fashion_mnist

_, test = load_fashion_mnist(download=False)
pick = np.random.default_rng(0).choice(len(test), 12, replace=False)
images = test.images[pick]                                  # N x 28 x 28 x 1, uint8
x = (images.transpose(0, 3, 1, 2).astype(np.float32) - net.inputs.mean[0]) / net.inputs.std[0]
prob = mx.nd.softmax(net(mx.nd.array(x))).asnumpy()

fig, axes = plt.subplots(2, 6, figsize=(11, 4.4))
for ax, img, p, label in zip(axes.flat, images, prob, test.labels[pick]):
    best = int(p.argmax())
    ax.imshow(img[:, :, 0], cmap="gray")
    ax.set_title("%s\n%.0f%%" % (net.classes[best], 100 * p[best]), fontsize=9,
                 color="green" if best == label else "red")
    ax.axis("off")
fig.suptitle("fashion_mnist_resnet20_v1b on 12 test images (red: wrong)")
plt.show()

# %%
# The whole test set
# ------------------
# :func:`gluon_tricks.train.accuracy_report` runs a network over a loader; the manifest's figure
# for this model is 94.19% top-1 on these 10,000 images.
from gluon_tricks.data import ArrayLoader
from gluon_tricks.train import accuracy_report

loader = ArrayLoader(test, 250, net.inputs.mean, net.inputs.std)
report = accuracy_report(net, loader, [mx.cpu()])
print("top-1 %.2f%%, top-5 %.2f%% on %d images (%.0f img/s)" % (
    100 * report["top1"], 100 * report["top5"], report["images"], report["img_per_s"]))

# %%
# Train a ResNet-D with the tricks
# --------------------------------
# A :class:`~gluon_tricks.train.Recipe` is the whole configuration of a run; :func:`~gluon_tricks.train.fit`
# trains it and writes a log, curves, checkpoints and ``best.params`` to ``save_dir``. Here: the
# ResNet-D tweak on the small ResNet-20, NAG, linear warmup then cosine decay, label smoothing, no
# weight decay on BN and biases, on 3,000 training images for 2 epochs (half a minute on 2 cores;
# ``scripts/train_cifar.py --dataset fashion-mnist`` runs the full recipe).
import tempfile

from gluon_tricks.train import Recipe, fit
from gluon_tricks.train.report import read_log

save_dir = tempfile.mkdtemp()
recipe = Recipe(model="cifar_resnet20_v1d", dataset="fashion-mnist", train_samples=3000, test_samples=1000,
                epochs=2, batch_size=128, lr=0.2, warmup_epochs=0.5, lr_mode="cosine", label_smoothing=0.1,
                no_wd=True, log_interval=5, save_dir=save_dir)
summary = fit(recipe, progress=False)
print("test accuracy after %d epochs: %.2f%%" % (summary["epochs"], 100 * summary["final_test_acc"]))

# %%
# The curves
# ----------
# ``log.jsonl`` holds one JSON record per logging interval and per epoch.
log = read_log(save_dir + "/log.jsonl")
steps = [r for r in log if r["kind"] == "interval"]
epochs = [r for r in log if r["kind"] == "epoch"]
fig, (left, middle, right) = plt.subplots(1, 3, figsize=(12, 3.4))
left.plot([r["epoch_float"] for r in steps], [r["loss"] for r in steps])
left.set(xlabel="epoch", ylabel="training loss (label-smoothed)")
middle.plot([r["epoch_float"] for r in steps], [r["lr"] for r in steps])
middle.set(xlabel="epoch", ylabel="learning rate", title="warmup, then cosine")
right.plot([r["epoch"] + 1 for r in epochs], [100 * r["test_acc"] for r in epochs], "o-")
right.set(xlabel="epoch", ylabel="test accuracy (%)")
fig.tight_layout()
plt.show()
