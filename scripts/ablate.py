#!/usr/bin/env python
"""Ablate the Bag-of-Tricks techniques on a data set and budget, several seeds per row.

The same as the ``gt-ablate`` command; ``--help`` tells the rest (gluon_tricks/cli/ablate.py)."""
from gluon_tricks.cli.ablate import main

if __name__ == "__main__":
    main()
