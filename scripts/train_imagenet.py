#!/usr/bin/env python
"""Train any registry model on ImageNet-style data: RecordIO files or image folders.

The same as the ``gt-train-imagenet`` command; ``--help`` tells the rest (gluon_tricks/cli/train_imagenet.py)."""
from gluon_tricks.cli.train_imagenet import main

if __name__ == "__main__":
    main()
