"""What every script shares: recipe files under flags, and one-line errors instead of tracebacks."""
import argparse
import os
import sys

from .data import DatasetNotFound
from .models import UnknownModel, WeightsMismatch
from .train import Recipe, TrainingDiverged

# Errors a user can act on; anything else is our bug and keeps its traceback.
USER_ERRORS = (DatasetNotFound, UnknownModel, WeightsMismatch, TrainingDiverged, ValueError, FileNotFoundError)


def recipe_from_args(args, fields):
    """Recipe from ``--recipe FILE`` (if given) with every explicitly passed flag on top."""
    recipe = Recipe.load(args.recipe) if getattr(args, "recipe", None) else Recipe()
    values = recipe.to_dict()
    for name in fields:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return Recipe.from_dict(values).validate()


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer, got %s" % text)
    return value


def nonnegative_float(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %s" % text)
    return value


def main_guard(parser, body):
    """Run ``body()``; a user error ends the program with ``prog: error: <one line>`` and status 2.

    Set GLUON_TRICKS_DEBUG=1 to get the full traceback instead."""
    try:
        return body()
    except USER_ERRORS as err:
        if os.environ.get("GLUON_TRICKS_DEBUG"):
            raise
        parser.exit(2, "%s: error: %s\n" % (parser.prog, str(err).strip().splitlines()[0]))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; the last completed epoch's checkpoint is intact\n")
        sys.exit(130)
