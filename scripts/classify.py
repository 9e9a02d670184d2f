#!/usr/bin/env python
"""Classify image files: the top classes of each, with names and probabilities.

The same as the ``gt-classify`` command; ``--help`` tells the rest (gluon_tricks/cli/classify.py)."""
from gluon_tricks.cli.classify import main

if __name__ == "__main__":
    main()
