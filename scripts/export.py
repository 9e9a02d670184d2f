#!/usr/bin/env python
"""Export a trained network for deployment: MXNet symbol + params, ONNX, and a JSON file saying

The same as the ``gt-export`` command; ``--help`` tells the rest (gluon_tricks/cli/export.py)."""
from gluon_tricks.cli.export import main

if __name__ == "__main__":
    main()
