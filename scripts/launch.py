#!/usr/bin/env python
"""Run a training command as a dist_sync job through MXNet's own launcher.

The same as the ``gt-launch`` command; ``--help`` tells the rest (gluon_tricks/cli/launch.py)."""
import sys

from gluon_tricks.cli.launch import main

if __name__ == "__main__":
    sys.exit(main())
