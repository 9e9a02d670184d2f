"""The command-line programs (``scripts/*.py``, ``gt-*`` commands). What every one shares: recipe files under flags, and one-line errors instead of tracebacks."""
import argparse
import contextlib
import dataclasses
import json
import os
import re
import sys
import threading
import traceback

from ..quantize import CALIB_MODES
from ..train import Recipe
from ..errors import INTERRUPTED, BadInput, UserError


def _comma_floats(text):
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated numbers like 30,60,80, got %r" % text) from None


def _json_dict(text):
    try:
        value = json.loads(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError("expected a JSON object, got %r (%s)" % (text, err)) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object like '{\"stem\": \"deep\"}', got %r" % text)
    return value


def add_recipe_arguments(parser, skip=()):
    """One flag per recipe field (``--batch-size`` for ``batch_size``), help from the field.

    Flags default to None, so only what the user typed overrides the recipe file or defaults."""
    defaults = Recipe()
    group = parser.add_argument_group("recipe (each flag overrides one field of --recipe or the default)")
    for f in dataclasses.fields(Recipe):
        meta = f.metadata
        if f.name in skip or meta.get("flag") == "-":
            continue
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else default
        shown = "%g" % shown if isinstance(shown, float) else shown
        text = meta.get("help", "") + ("" if shown in (None, "", (), {}) else " (default: %s)" % (shown,))
        if f.type is bool:
            pair = group.add_mutually_exclusive_group()
            pair.add_argument(flag, dest=f.name, action="store_const", const=True, default=None, help=text)
            if meta.get("negative"):
                pair.add_argument(meta["negative"], dest=f.name, action="store_const", const=False, default=None,
                                  help="the opposite of %s" % flag)
            continue
        kind = {tuple: _comma_floats, dict: _json_dict, int: int, float: float}.get(f.type, str)
        group.add_argument(flag, dest=f.name, type=kind, default=None, choices=meta.get("choices"),
                           metavar=None if meta.get("choices") else f.name.split("_")[-1].upper(), help=text)


def recipe_from_args(args, base=None):
    """The recipe: ``base`` (or ``--recipe FILE``, or the defaults) with every explicitly given flag on top."""
    if base is None:
        base = Recipe.load(args.recipe) if getattr(args, "recipe", None) else Recipe()
    values = base.to_dict()
    for name in values:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return Recipe.from_dict(values).validate()


def add_run_arguments(parser):
    """The flags every training script has besides the recipe's."""
    parser.add_argument("--recipe", metavar="FILE", help="YAML or JSON recipe (e.g. from model_zoo/; a line "
                                                         "'base: OTHER.yaml' makes it the changes to another); flags "
                                                         "given explicitly override its fields")
    parser.add_argument("--mode", choices=["hybrid", "imperative", "symbolic"],
                        help="hybrid compiles the graph (default; 'symbolic' is accepted as the same); imperative "
                             "runs op by op, for debugging")
    parser.add_argument("--resume", action="store_true",
                        help="continue the newest checkpoint in --save-dir with the recipe saved there")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs and CI)")
    parser.add_argument("--no-tensorboard", action="store_true",
                        help="no TensorBoard event files in --save-dir (written by default: tensorboard --logdir "
                             "runs/ shows every run's curves side by side)")


def train_main(parser, args, make_recipe, start=None, default_save_dir=None):
    """Build the recipe (``make_recipe(base)``; base = the recipe saved in --save-dir under
    --resume, else None), check it, train, print the outcome; user errors end in one line."""
    from ..train import fit
    from ..zoo import get_model as build_model

    if args.mode is not None:
        args.hybridize = args.mode != "imperative"

    def run():
        base = None
        if args.resume:
            saved = os.path.join(args.save_dir or default_save_dir or Recipe().save_dir, "recipe.json")
            if os.path.isfile(saved):
                base = Recipe.load(saved)
        recipe = make_recipe(base)
        build_model(recipe.model, **recipe.network_settings())  # unknown names and settings fail here, before any data is read
        try:  # from the first line a user sees, Ctrl-C says what it leaves
            print("training %s  (lr %.4g, batch %d, save dir %s)" % (
                recipe.short(), recipe.effective_lr(), recipe.batch_size, recipe.save_dir), flush=True)
            summary = fit(recipe, progress=not args.no_progress, resume=args.resume, start=start,
                          tensorboard=not args.no_tensorboard)
        except KeyboardInterrupt:
            raise Interrupted(interrupted_run(recipe.save_dir)) from None
        if summary["rank"] == 0:
            print("final top-1 accuracy %.4f (best %.4f at epoch %d) in %.1f min of training; log %s, plot %s" % (
                summary["final_test_acc"], summary["best_test_acc"], summary["best_epoch"],
                summary["train_time"] / 60, summary["log"], summary["plot"]), flush=True)
        return summary
    return main_guard(parser, run)


@contextlib.contextmanager
def tee(path):
    """Everything printed to stdout is also appended to ``path`` (GluonCV's --logging-file)."""
    if not path:
        yield
        return
    original = sys.stdout
    with open(path, "a") as log:
        class Tee:
            def write(self, text):
                log.write(text)
                return original.write(text)

            def flush(self):
                log.flush()
                original.flush()

            def __getattr__(self, name):
                return getattr(original, name)
        sys.stdout = Tee()
        try:
            yield
        finally:
            sys.stdout = original


def program(build_parser):
    """``@program(parser)`` on ``main(args)`` makes ``main(argv=None)``: parse, run, end a user error in
    one line (see :func:`main_guard`) and return the report; ``main.command`` is the gt-* entry point."""
    def wrap(body):
        def main(argv=None):
            p = build_parser()
            args = p.parse_args(argv)
            args._argv = list(sys.argv[1:] if argv is None else argv)  # to write the command into reports
            return main_guard(p, lambda: body(args))
        main.__doc__ = body.__doc__
        return as_command(main)
    return wrap


def as_command(main):
    """Give ``main`` the attribute ``command``, the gt-* entry point: it runs ``main`` and exits 0 after
    success (``main`` returns its report to Python callers; a console script would print it and exit 1)."""
    def command():
        main()
    main.command = command
    return main


def write_json(path, report, indent=2):
    """A report as JSON, when the user asked for a file."""
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=indent)


def main_guard(parser, body):
    """Run ``body()``; a user error ends the program with ``prog: error: <one line>`` and its status
    (:mod:`gluon_tricks.errors`: 2 usage, 3 data, disk or run failed; 130 interrupted; 1 a bug).

    Set GLUON_TRICKS_DEBUG=1 to get the full traceback instead. A failing dist_sync worker exits
    at once: a normal exit would wait in the kvstore's shutdown barrier for the other workers."""
    try:
        return _run_reporting_errors(parser, body)
    except BaseException as err:
        if os.environ.get("DMLC_ROLE") != "worker" or (isinstance(err, SystemExit) and not err.code):
            raise
        if not isinstance(err, SystemExit):
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(err.code if isinstance(err, SystemExit) and isinstance(err.code, int) else 1)


def _run_reporting_errors(parser, body):
    try:
        with quiet_mxnet():
            return body()
    except UserError as err:
        if os.environ.get("GLUON_TRICKS_DEBUG"):
            raise
        parser.exit(err.status, "%s: error: %s\n" % (parser.prog, str(err).strip().splitlines()[0]))
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        sys.stdout = open(os.devnull, "w")
    except KeyboardInterrupt as err:
        sys.stderr.write("%s\n" % (str(err) or "interrupted"))
        sys.exit(INTERRUPTED)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what it left behind."""


def interrupted_run(save_dir):
    """What a training run stopped by Ctrl-C leaves: the checkpoint --resume continues from, or none."""
    from ..train.checkpoint import Checkpoints
    try:
        found = Checkpoints(save_dir).latest()
    except (OSError, UserError) as err:
        return "interrupted; the newest checkpoint cannot be read (%s)" % str(err).splitlines()[0]
    if not found:
        return "interrupted before the first checkpoint: none exists yet, so --resume would start from the beginning"
    path, meta = found
    epoch, batch = meta["state"]["epoch"], meta["state"]["batch"]
    where = "after epoch %d" % epoch if not batch else "epoch %d, batch %d" % (epoch + 1, batch)
    return "interrupted; the checkpoint %s (%s) is intact: --resume continues from it" % (path, where)


def add_weights_arguments(parser):
    """Which trained network: a training run, or a registry or published model with weights."""
    g = parser.add_argument_group("the network (a training run, or --model with weights)")
    g.add_argument("--run", metavar="DIR", help="a training --save-dir: its recipe, classes and best.params")
    g.add_argument("--model", help="a registry name with --params, or a published name (python -m gluon_tricks.zoo "
                                   "list) with --use-pretrained")
    g.add_argument("--params", metavar="FILE|TAG", help="weights: a .params file (ours or GluonCV's for the same "
                                                        "model), or a published version tag of --model; with --run: "
                                                        "instead of best.params")
    g.add_argument("--use-pretrained", action="store_true", help="the published weights of --model (shipped here or "
                                                                 "GluonCV's: from the cache, else downloaded)")
    g.add_argument("--exported", metavar="PREFIX", help="a network export.py wrote, float32 or int8 (PREFIX.json, "
                                                        "PREFIX-symbol.json, PREFIX-0000.params)")
    g.add_argument("--input-size", type=int, help="with --model: input size (default: the published weights', else 224)")
    g.add_argument("--crop-ratio", type=float, help="with --model: resize to input-size / crop-ratio, then centre-crop "
                                                    "(default: the published weights', else 0.875)")


def predictor_from_args(args, recipe=None):
    """The Predictor the weights flags name (user errors as ValueError)."""
    from ..inference import Predictor
    if getattr(args, "exported", None):
        if args.run or args.model:
            raise BadInput("--exported names the whole network: drop --run/--model")
        return Predictor.from_exported(args.exported)
    if args.run:
        return Predictor.from_run(args.run, args.params)
    if not args.model or not (args.params or args.use_pretrained):
        raise BadInput("name the network: --run DIR, or --model NAME with --params FILE or --use-pretrained")
    return Predictor.from_model(args.model, args.params or True, getattr(args, "classes", None), recipe=recipe,
                                input_size=args.input_size, crop_ratio=args.crop_ratio)


def add_int8_arguments(parser, action):
    """int8 through MXNet's quantization: the switch and where its calibration images come from."""
    g = parser.add_argument_group("int8 (CPU, oneDNN; fast on CPUs with avx512_vnni, avx_vnni or amx_int8)")
    g.add_argument("--int8", action="store_true", help=action)
    g.add_argument("--calib-images", type=int, default=512, metavar="N",
                   help="training images the int8 thresholds are calibrated on (default 512, a seeded random subset)")
    g.add_argument("--calib-mode", choices=CALIB_MODES, default="naive",
                   help="naive: each layer's min/max over the calibration images (default); entropy: KL-optimal "
                        "thresholds (slower to calibrate); none: thresholds at run time (no images, slower inference)")
    g.add_argument("--calib-data", metavar="PATH|NAME",
                   help="where the calibration images come from: a training .rec, a folder of class folders, or a "
                        "small data set's name (default: the network's own training set: the run's, or the "
                        "published weights' data set)")


def int8_from_args(args, predictor):
    """The int8 copy of ``predictor`` the --int8 flags ask for (a note printed when this CPU lacks the
    instructions that make int8 fast)."""
    from ..data import calibration_loader
    from ..notice import notice
    from ..quantize import calibration_batches, check_int8
    if predictor.dtype != "float32":
        raise BadInput("the network is already %s: quantize its float32 export" % predictor.dtype)
    images = None
    if args.calib_mode != "none":
        loader = calibration_loader(predictor.recipe, args.calib_images, args.calib_data)
        images = calibration_batches(loader, args.calib_images)
    quantized = predictor.quantized(images, args.calib_mode)
    note = check_int8(predictor.ctx)  # after the input is known good: a refusal stays one line
    if note:
        notice(note)
    return quantized


# MXNet 1.9.1 writes these INFO lines from C++ straight to stderr, with no level to turn them off:
# one per ResNet-D run ("MKLDNN Pooling: training with prop_kind is forward_scoring": its average
# pooling excludes padding, as GluonCV's weights need), one per ImageRecordIter, one per int8
# graph bound (its oneDNN subgraph), and on GPUs one per device about its memory pool.
MXNET_CHATTER = re.compile(rb"\[\d\d:\d\d:\d\d\] \S+: (?:MKLDNN Pooling: training with prop_kind is forward_scoring"
                           rb"|ImageRecordIOParser2: .*, use \d+ threads for decoding"
                           rb"|Using \w+StorageManager\."
                           rb"|Subgraph backend MKLDNN is activated\.).*")


@contextlib.contextmanager
def quiet_mxnet():
    """Drop MXNet's known INFO chatter from stderr (file descriptor 2, where C++ writes); every
    other line passes through as it comes. GLUON_TRICKS_DEBUG=1 keeps everything."""
    if os.environ.get("GLUON_TRICKS_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        yield
        return

    def forward():
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                # Chatter is cut out with its newline; it may follow a progress bar's unfinished line.
                kept = [cut if cut != line else line + b"\n"
                        for line, cut in ((line, MXNET_CHATTER.sub(b"", line)) for line in lines)]
                if pending and not pending.startswith(b"["):  # a progress bar's partial line: now
                    kept.append(pending)
                    pending = b""
                if kept:
                    os.write(saved, b"".join(kept))
            if pending:
                os.write(saved, pending)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread drains and stops
        thread.join(timeout=5)
        os.close(saved)
