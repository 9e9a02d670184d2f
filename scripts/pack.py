#!/usr/bin/env python
"""Pack images into RecordIO: .rec + .idx + .lst (+ .classes.json for a folder).

The same as the ``gt-pack`` command; ``--help`` tells the rest (gluon_tricks/cli/pack.py)."""
from gluon_tricks.cli.pack import main

if __name__ == "__main__":
    main()
