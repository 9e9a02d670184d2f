"""Shared test helpers."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_CIFAR = os.path.join(ROOT, "scripts", "train_cifar.py")


def train_cifar(*args, env=None, timeout=600):
    """Run scripts/train_cifar.py in a fresh process; returns the CompletedProcess."""
    return subprocess.run([sys.executable, TRAIN_CIFAR, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
