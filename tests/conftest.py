"""Shared test helpers."""
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_CIFAR = os.path.join(ROOT, "scripts", "train_cifar.py")
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
NO_DATA = "Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)"
HAVE_DATA = os.path.isdir(DEBIAN_FASHION_MNIST)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason=NO_DATA)


def train_cifar(*args, env=None, timeout=600):
    """Run scripts/train_cifar.py in a fresh process; returns the CompletedProcess."""
    return subprocess.run([sys.executable, TRAIN_CIFAR, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


FASHION_CLASSES = {"tshirt": 0, "trouser": 1, "bag": 8, "sneaker": 7}  # folder name -> Fashion-MNIST label


@pytest.fixture(scope="session")
def fashion_jpegs(tmp_path_factory):
    """Real images as an ImageNet-style tree: root/{train,val}/<class>/*.jpg, 4 Fashion-MNIST
    classes, 40x40 RGB JPEGs, 96 train and 24 val images per class, plus packed .rec files."""
    if not HAVE_DATA:
        pytest.skip(NO_DATA)
    from PIL import Image

    from gluon_tricks.data import load_fashion_mnist, pack
    train, test = load_fashion_mnist(download=False)
    root = tmp_path_factory.mktemp("fashion_jpegs")
    for split, data, count in (("train", train, 96), ("val", test, 24)):
        for name, label in FASHION_CLASSES.items():
            os.makedirs(root / split / name)
            for i, k in enumerate(np.flatnonzero(data.labels == label)[:count]):
                img = Image.fromarray(data.images[k, :, :, 0]).convert("RGB").resize((40, 40), Image.BILINEAR)
                img.save(root / split / name / ("%03d.jpg" % i), quality=90)
        pack(str(root / split), str(root / split) + "_rec", workers=1, progress=False)
    return root
