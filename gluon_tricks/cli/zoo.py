"""The model zoo's weights cache, for people who run offline clusters: what is published, fetch it,
check it, clear it.

The cache is $MXNET_HOME/models (default ~/.mxnet/models), shared with GluonCV; --root picks
another. Fill a cache on a machine with network (`download`), copy the folder to the cluster,
set GLUON_TRICKS_OFFLINE=1 there, and `verify`. Downloads come from $MXNET_GLUON_REPO (any GluonCV
mirror; default GluonCV's public repository).

examples:
  python -m gluon_tricks.zoo list                      # names, versions, accuracy, installed or cached
  python -m gluon_tricks.zoo list 'resnet50_*' --json
  python -m gluon_tricks.zoo download resnet50_v1d resnet50_v1d:00319ddc
  python -m gluon_tricks.zoo verify                    # the sha1 of everything cached
  python -m gluon_tricks.zoo purge                     # remove the zoo's files and unfinished downloads
  python -m gluon_tricks.zoo table --write model_zoo/README.md
  python -m gluon_tricks.zoo publish runs/fm fashion_mnist_resnet9 --command "python scripts/train_cifar.py ..."

publish (in a source checkout) copies a finished run's last weights, recipe, log and curves to
model_zoo/NAME/, measures top-1/top-5 on all test images (plain and with flip TTA) into
metrics.json, enters NAME in gluon_tricks/zoo/manifest.json and rewrites model_zoo/README.md's tables.
"""
import argparse
import fnmatch
import glob
import json
import os

from . import program
from .. import zoo
from ..zoo import store
from ..errors import BadInput, InputNotFound


def parser():
    p = argparse.ArgumentParser(prog="python -m gluon_tricks.zoo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", help="the weights cache (default: $MXNET_HOME/models)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ls = sub.add_parser("list", help="published names and versions: data set, accuracy, installed with the package, cached or neither")
    ls.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern (default: all)")
    ls.add_argument("--json", action="store_true", help="one JSON object per version")
    dl = sub.add_parser("download", help="fill the cache: NAME or NAME:TAG ...")
    dl.add_argument("names", nargs="*", metavar="NAME[:TAG]")
    dl.add_argument("--all", action="store_true", help="every published version")
    sub.add_parser("verify", help="check the sha1 of every cached file of the zoo; exit 1 if one is wrong")
    sub.add_parser("purge", help="remove the zoo's files and unfinished downloads from the cache")
    tb = sub.add_parser("table", help="print the published models as Markdown tables")
    tb.add_argument("--write", metavar="FILE", help="write them between FILE's zoo-table markers instead")
    pb = sub.add_parser("publish", help="a finished training run becomes a published model (source checkout)")
    pb.add_argument("run", metavar="RUN", help="the run's --save-dir")
    pb.add_argument("name", metavar="NAME", help="the published name, e.g. fashion_mnist_resnet9")
    pb.add_argument("--command", dest="reproduce", required=True, metavar="CMD",
                    help="the command that reproduces the run (shown in the zoo)")
    pb.add_argument("--note", help="a sentence the zoo shows with the entry")
    return p


def _cached(root, e):
    return os.path.join(root, store.file_name(e.name, e.checksum) + ".params")


def _where(root, e):
    if e.bundled and os.path.isfile(e.bundled):
        return "installed"
    return "cached" if os.path.isfile(_cached(root, e)) else "-"


def list_versions(root, pattern, as_json):
    found = [e for name in zoo.published_names() if fnmatch.fnmatchcase(name, pattern) for e in zoo.versions(name)]
    if not found:
        raise BadInput("no published name matches %r; see: python -m gluon_tricks.zoo list" % pattern)
    for e in found:
        if as_json:
            print(json.dumps(dict(e.describe(), where=_where(root, e))))
    if not as_json:
        row = "%%-%ds %%-18s %%-20s %%6s %%6s  %%s" % max(len(e.name) for e in found)  # names line up
        print(row % ("name", "version", "data set", "top-1", "top-5", "here"))
        for e in found:
            print(row % (
                e.name, e.tag + (" (default)" if e.default else ""), e.inputs.eval_set.split(" (")[0],
                "" if e.top1 is None else "%.2f" % e.top1, "" if e.top5 is None else "%.2f" % e.top5, _where(root, e)))
    return found


def download(root, names, every):
    if not names and not every:
        raise BadInput("name what to download (NAME or NAME:TAG), or pass --all")
    wanted = [e for name in zoo.published_names() for e in zoo.versions(name)] if every else \
        [zoo.entry(n.partition(":")[0], n.partition(":")[2] or True) for n in names]
    paths = []
    for e in wanted:
        paths.append(zoo.weights_file(e, root))
        print("%s:%s  %s" % (e.name, e.tag, paths[-1]))
    return paths


def verify(root):
    """(good, bad): every zoo file in the cache, checked against its published sha1."""
    good, bad = [], []
    for e in zoo.entries():
        path = _cached(root, e)
        if os.path.isfile(path):
            actual = store.sha1_of(path)
            (good if store.matches(actual, e.checksum) else bad).append(path)
            print("%-4s %s%s" % ("ok" if path in good else "BAD", path,
                                 "" if path in good else "  (sha1 %s, published %s)" % (actual, e.checksum)))
    print("%d verified, %d wrong%s" % (len(good), len(bad), "; `download` fetches them again" if bad else ""))
    return good, bad


def purge(root):
    zoo_files = {_cached(root, e) for e in zoo.entries()}
    leftovers = glob.glob(os.path.join(root, "*.part-*"))  # lock files stay: a running download may hold one
    removed = [p for p in sorted(zoo_files) + leftovers if os.path.isfile(p)]
    freed = sum(os.path.getsize(p) for p in removed)
    for p in removed:
        os.remove(p)
    print("removed %d files (%.1f MB) from %s" % (len(removed), freed / 1e6, root))
    return removed


def publish_run(args):
    from ..zoo import publish, table
    from ..zoo.catalog import REPOSITORY
    if not os.path.isdir(os.path.join(REPOSITORY, "model_zoo")):
        raise BadInput("publish writes into a source checkout's model_zoo/; this install has none")
    if not os.path.isfile(os.path.join(args.run, "recipe.json")):
        raise InputNotFound("%s is not a training run directory (no recipe.json)" % args.run)
    entry = publish.publish(args.run, args.name, args.reproduce, note=args.note)
    table.write(os.path.join(REPOSITORY, "model_zoo", "README.md"))
    print("%s:%s  top-1 %.2f%%  top-5 %.2f%%  -> %s" % (entry["name"], entry["tag"], entry["top1"], entry["top5"],
                                                       entry["source"]))
    return entry


@program(parser)
def main(args):
    root = args.root or zoo.cache_dir()
    if args.command == "list":
        return list_versions(root, args.pattern, args.json)
    if args.command == "download":
        return download(root, args.names, args.all)
    if args.command == "verify":
        good, bad = verify(root)
        if bad:
            raise SystemExit(1)
        return good
    if args.command == "purge":
        return purge(root)
    from ..zoo import table
    if args.command == "publish":
        return publish_run(args)
    if args.write:
        print("%s: %s" % (args.write, "updated" if table.write(args.write) else "already up to date"))
    else:
        print(table.markdown())


if __name__ == "__main__":
    main()
