"""The PyTorch venv that the PyTorch benches run their torch side in: torch wants a newer numpy
than MXNet 1.9.1 runs with, so it never enters our process. A bench adds the arguments, checks
the venv, and runs its own file there with --torch-side; the side prints one JSON line."""
import argparse
import json
import os
import subprocess
import sys

INSTALL = "python -m venv ~/torchvenv && ~/torchvenv/bin/pip install torch==2.13.0 numpy"


def add_arguments(p):
    p.add_argument("--torch-python", default=os.path.expanduser("~/torchvenv/bin/python"),
                   help="the python of a venv with torch==2.13.0 (default ~/torchvenv/bin/python)")
    p.add_argument("--torch-side", action="store_true", help=argparse.SUPPRESS)


def check(python):
    if not os.path.isfile(python):
        sys.exit("no PyTorch venv at %s: %s" % (python, INSTALL))


def run_side(python, script, argv):
    """``script --torch-side argv`` in the venv; its last stdout line, parsed. Exits in one line if it fails."""
    done = subprocess.run([python, os.path.abspath(script), "--torch-side", *argv], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=""))
    if done.returncode:
        sys.exit("the PyTorch side failed: %s" % done.stderr.strip()[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])
