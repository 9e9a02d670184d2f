#!/usr/bin/env python
"""Training and inference speed of any registry model on synthetic data, or a comparison table

The same as the ``gt-benchmark`` command; ``--help`` tells the rest (gluon_tricks/cli/benchmark.py)."""
from gluon_tricks.cli.benchmark import main

if __name__ == "__main__":
    main()
