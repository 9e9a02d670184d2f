#!/usr/bin/env python
"""Top-1/top-5 accuracy and throughput of a trained network on a validation set.

The same as the ``gt-evaluate`` command; ``--help`` tells the rest (gluon_tricks/cli/evaluate.py)."""
from gluon_tricks.cli.evaluate import main

if __name__ == "__main__":
    main()
