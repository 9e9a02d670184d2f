#!/usr/bin/env python
"""The model zoo's weights cache: list, download, verify, purge, and the published-models table.

The same as the ``gt-zoo`` command; ``--help`` tells the rest (gluon_tricks/cli/zoo.py)."""
from gluon_tricks.cli.zoo import main

if __name__ == "__main__":
    main()
