"""Classify image files: the top classes of each, with names and probabilities.

Images are preprocessed as validation does (resize to input/0.875, centre crop, normalise; small
grayscale datasets: resize to 28 px). Class names come from the run's classes.json, --classes,
or ImageNet's list for 1000-class weights.

examples:
  python scripts/classify.py --run runs/fashion-mnist shoe.jpg shirt.png
  python scripts/classify.py --model resnet50_v1d --use-pretrained --top 3 cat.jpg
  python scripts/classify.py --model resnet18_v1b --params mine.params --classes mine.classes.json a.jpg
"""
import argparse
import json
import os

from . import add_weights_arguments, predictor_from_args, program
from ..errors import BadInput, InputNotFound


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    p.add_argument("--top", type=int, default=5, help="classes shown per image (default 5)")
    p.add_argument("--classes", metavar="FILE", help="class names: a JSON list, or pack.py's .classes.json")
    p.add_argument("--json", action="store_true", help="print one JSON object per image instead of a table")
    add_weights_arguments(p)
    return p


@program(parser)
def main(args):
    if args.top < 1:
        raise BadInput("--top must be >= 1")
    missing = [f for f in args.images if not os.path.isfile(f)]
    if missing:
        raise InputNotFound("no such image file: %s" % ", ".join(missing))
    predictor = predictor_from_args(args)
    results = predictor.top(args.images, args.top)
    for path, best in zip(args.images, results):
        if args.json:
            print(json.dumps({"image": path, "top": [{"class": c, "probability": p} for c, p in best]}))
        else:
            print(path)
            for rank, (name, prob) in enumerate(best, 1):
                print("  %d. %-30s %6.2f%%" % (rank, name, 100 * prob))
    return results


if __name__ == "__main__":
    main()
