"""Pack images into RecordIO: .rec + .idx + .lst (+ .classes.json for a folder).

SOURCE is an image folder tree (root/<class>/<image>; class ids follow sorted folder names) or an
im2rec .lst file (index<TAB>label<TAB>path, paths relative to --root). Every image is decoded,
converted to 3-channel colour (grayscale, CMYK and alpha included), optionally resized so its
shorter side is --resize, and stored as a JPEG of --quality. Unreadable files are skipped and
listed. The outputs are written under temporary names and appear only when complete. The files
are MXNet's own format: mx.io.ImageRecordIter and im2rec.py's readers read them.

examples:
  python scripts/pack.py ~/data/imagenet/train ~/data/rec/train --resize 480 --quality 95
  python scripts/pack.py my.lst ~/data/rec/my --root ~/data/images -j 8
"""
import argparse
import os
import warnings

from . import program
from ..data.recordio import pack
from ..errors import BadInput


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="image folder (root/<class>/<image>) or .lst file")
    p.add_argument("prefix", help="output path without extension: writes PREFIX.rec, .idx, .lst")
    p.add_argument("--root", help="folder the .lst paths are relative to (default: the .lst's folder)")
    p.add_argument("--resize", type=int, default=0, help="resize the shorter side to this many pixels (0: keep)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100 (default 95)")
    p.add_argument("-j", "--workers", type=int, default=os.cpu_count(), help="encoding processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


@program(parser)
def main(args):
    if args.resize < 0 or args.workers < 1:
        raise BadInput("--resize must be >= 0 and -j >= 1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped files are listed below instead
        summary = pack(args.source, args.prefix, root=args.root, resize=args.resize, quality=args.quality,
                       workers=args.workers, progress=not args.no_progress)
    for rel, reason in summary["skipped"]:
        print("skipped %s: %s" % (rel, reason))
    print("wrote %d images to %s (%d skipped)%s" % (
        summary["written"], summary["rec"], len(summary["skipped"]),
        "; %d classes in %s.classes.json" % (len(summary["classes"]), args.prefix) if summary["classes"] else ""))
    return summary


if __name__ == "__main__":
    main()
