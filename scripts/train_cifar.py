#!/usr/bin/env python
"""Train a small-input ResNet on Fashion-MNIST, CIFAR-10 or CIFAR-100.

The same as the ``gt-train-cifar`` command; ``--help`` tells the rest (gluon_tricks/cli/train_cifar.py)."""
from gluon_tricks.cli.train_cifar import main

if __name__ == "__main__":
    main()
