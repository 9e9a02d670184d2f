"""
Fine-tuning on your own images
==============================

Your images in class folders become RecordIO files, a published model gets a new classifier for
your classes, trains, is evaluated and classifies new files. The "own images" here are JPEGs
exported from four Fashion-MNIST classes, so the page runs anywhere without downloads; a folder of
your photos works the same way (with an ImageNet model such as ``resnet50_v1d`` and 224 px).
"""

# %%
# A folder of JPEGs per class
# ---------------------------
# ``train/<class>/*.jpg`` and ``val/<class>/*.jpg``, as ImageNet is laid out.
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from gluon_tricks.data import load_fashion_mnist

root = tempfile.mkdtemp()
train, test = load_fashion_mnist(download=False)
classes = {"sandal": 5, "shirt": 6, "sneaker": 7, "bag": 8}
for split, data, count in (("train", train, 100), ("val", test, 40)):
    for name, label in classes.items():
        os.makedirs(os.path.join(root, split, name))
        for i, k in enumerate(np.flatnonzero(data.labels == label)[:count]):
            Image.fromarray(data.images[k, :, :, 0]).convert("RGB").save(
                os.path.join(root, split, name, "%03d.jpg" % i), quality=95)

fig, axes = plt.subplots(1, 8, figsize=(10, 1.8))
for ax, (name, i) in zip(axes, [(n, i) for n in classes for i in range(2)]):
    ax.imshow(Image.open(os.path.join(root, "train", name, "%03d.jpg" % i)))
    ax.set_title(name, fontsize=9)
    ax.axis("off")
plt.show()

# %%
# Pack them into RecordIO
# -----------------------
# :func:`gluon_tricks.data.pack` (``scripts/pack.py``) writes ``.rec``/``.idx`` files that MXNet's
# ``ImageRecordIter`` and our threaded loader both read, and the class names beside them.
from gluon_tricks.data import pack

for split in ("train", "val"):
    summary = pack(os.path.join(root, split), os.path.join(root, split), workers=1, progress=False)
    print(split, summary)

# %%
# Fine-tune a published model
# ---------------------------
# ``pretrained`` names the published Fashion-MNIST model: its classifier (10 classes) is replaced by
# a new one for our 4, and its grayscale stem is adapted to the RGB JPEGs (the weights repeated
# over the three channels and divided by 3, so a gray image keeps its features). Inputs are
# normalised with the statistics the model was trained with. A small learning rate keeps the
# features; three epochs over 400 images take seconds.
from gluon_tricks import get_model
from gluon_tricks.train import Recipe, fit

published = get_model("fashion_mnist_resnet20_v1b", pretrained=True)
recipe = Recipe(dataset="images", rec_train=os.path.join(root, "train.rec"), rec_val=os.path.join(root, "val.rec"),
                model="cifar_resnet20_v1b", pretrained="fashion_mnist_resnet20_v1b", input_size=28, crop_ratio=1.0,
                rgb_mean=published.inputs.mean * 3, rgb_std=published.inputs.std * 3, jitter=0.0, lighting=0.0,
                batch_size=32, epochs=3, lr=0.02, warmup_epochs=0, lr_mode="cosine", label_smoothing=0.1,
                log_interval=5, save_dir=os.path.join(root, "run"))
result = fit(recipe, progress=False)
print("validation accuracy after fine-tuning: %.1f%%" % (100 * result["final_test_acc"]))

# %%
# Evaluate and classify, as the scripts do
# ----------------------------------------
# ``scripts/evaluate.py --run DIR`` and ``scripts/classify.py --run DIR IMAGE...`` read the run's
# recipe, class names and ``best.params``; the functions behind them are called here.
from gluon_tricks.cli import classify, evaluate

evaluate.main(["--run", recipe.save_dir])
files = [os.path.join(root, "val", name, "010.jpg") for name in classes]
classify.main(["--run", recipe.save_dir, "--top", "2", *files])
