"""Train any registry model on ImageNet-style data: RecordIO files or image folders.

A drop-in for GluonCV's scripts/classification/imagenet/train_imagenet.py: every flag of that
script is accepted with the same meaning and default (see "GluonCV's flags" below), so its
published training commands run unchanged; any recipe field can be set as well, and
--recipe FILE starts from a recipe (e.g. model_zoo/resnet50_v1d_imagenet.yaml) instead of
GluonCV's defaults. The effective recipe is saved with every checkpoint in --save-dir.

Where we differ from GluonCV, on purpose:
  * float16 uses dynamic loss scaling (or --loss-scale N) with fp32 master weights; GluonCV used
    multi_precision without loss scaling. float16 needs a GPU; on a CPU use bfloat16.
  * --warmup-lr works (GluonCV parsed it and ignored it); --label-smoothing takes an optional
    epsilon (bare flag: 0.1, as GluonCV); --num-training-samples is accepted and not needed:
    the epoch length is read from the data.
  * every epoch is checkpointed atomically (weights, optimizer state, EMA, loss scale, the
    position in the schedule) and --resume continues exactly: no RNG state is saved, because
    every batch's order and augmentation are drawn from (seed, epoch, batch) alone; --save-frequency N also keeps <model>-<epoch>.params every N epochs.
  * --use-pretrained with --num-classes different from the weights' replaces the classifier
    (fine-tuning on your own data).

Verified on CPU only (MXNet 1.9.1, 2 cores): float32 training on RecordIO files and folders
(tests), bfloat16 through the same trainer (tested on small images, on a CPU with AMX); the
--num-gpus/--gpus, float16 and nccl paths are written but never ran on a GPU.

examples:
  python scripts/train_imagenet.py --model resnet50_v1d --use-rec --rec-train train.rec \\
      --rec-train-idx train.idx --rec-val val.rec --rec-val-idx val.idx --mode hybrid \\
      --lr 0.4 --lr-mode cosine --num-epochs 120 --batch-size 128 --num-gpus 8 -j 60 \\
      --warmup-epochs 5 --dtype float16 --last-gamma --no-wd --label-smoothing
  python scripts/train_imagenet.py --recipe model_zoo/resnet50_v1d_imagenet.yaml --gpus 0,1
  python scripts/train_imagenet.py --model resnet18_v1b --data-dir my_photos --num-classes 5 \\
      --use-pretrained --lr 0.01 --num-epochs 10      # fine-tune on my_photos/{train,val}/<class>/
"""
import argparse
import os
import warnings

from . import add_recipe_arguments, add_run_arguments, as_command, recipe_from_args, tee, train_main
from ..train import Recipe
from ..errors import BadInput

IMAGENET = os.path.join("~", ".mxnet", "datasets", "imagenet")
# GluonCV's defaults, as a recipe: the starting point when no --recipe is given.
GLUONCV_DEFAULTS = dict(
    dataset="images", data_dir=os.path.expanduser(IMAGENET), batch_size=32, epochs=3, optimizer="nag", lr=0.1,
    momentum=0.9, wd=1e-4, lr_mode="step", lr_decay=0.1, lr_decay_epochs=(40, 60), warmup_lr=0.0, warmup_epochs=0,
    input_size=224, crop_ratio=0.875, label_smoothing=0.0, no_wd=False, temperature=20.0, hard_weight=0.5,
    save_dir="params", save_frequency=10, log_interval=50, data_threads=4, pad_crop=0)
# Recipe fields that GluonCV's flags set (under GluonCV's names): no second flag for them.
COVERED = {"epochs", "lr_decay_epochs", "mixup_off_epochs", "data_threads"}


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p)
    g = p.add_argument_group("GluonCV's flags (same meaning and defaults as its train_imagenet.py)")
    add = g.add_argument
    add("--model", help="registry model name, e.g. resnet50_v1d (required unless --recipe names one)")
    add("--data-dir", help="image folders <dir>/train/<class>/* and <dir>/val/<class>/* (default %s)" % IMAGENET)
    add("--use-rec", action="store_true", help="read RecordIO files (--rec-*) instead of folders")
    for split in ("train", "val"):
        add("--rec-%s" % split, dest="rec_" + split,
            help="the %s .rec (default %s/rec/%s.rec with --use-rec)" % (split, IMAGENET, split))
        add("--rec-%s-idx" % split, dest="rec_%s_idx" % split, help="its .idx (default: beside the .rec)")
    add("--batch-size", type=int, help="images per device (GluonCV's meaning; default 32); the recipe's batch is "
                                       "this times the number of devices")
    add("--num-gpus", type=int, default=0, help="use GPUs 0..N-1 (or name them with --gpus); 0 = CPU")
    add("-j", "--num-data-workers", dest="data_threads", type=int, help="decoding threads (default 4)")
    add("--num-epochs", dest="epochs", type=int, help="training epochs (default 3)")
    add("--lr", type=float, help="learning rate (default 0.1)")
    add("--lr-mode", choices=("step", "cosine", "linear", "poly"), help="decay after warmup (default step)")
    add("--lr-decay", type=float, help="step mode: factor (default 0.1)")
    add("--lr-decay-period", type=int, default=0, help="step mode: decay every N epochs (overrides --lr-decay-epoch)")
    add("--lr-decay-epoch", help="step mode: epochs to decay at, comma-separated (default 40,60)")
    add("--warmup-lr", type=float, help="learning rate at the start of warmup (default 0; works here)")
    add("--warmup-epochs", type=float, help="linear warmup epochs (default 0)")
    add("--momentum", type=float, help="momentum (default 0.9)")
    add("--wd", type=float, help="weight decay (default 1e-4)")
    add("--input-size", type=int, help="input size (default 224)")
    add("--crop-ratio", type=float, help="validation: resize to input-size / crop-ratio, centre-crop (default 0.875)")
    add("--use-pretrained", action="store_true", help="start from GluonCV's published weights for --model (its "
                                                      "cache, else a download); see --pretrained for a file")
    add("--use_se", action="store_true", help="squeeze-and-excitation units in the ResNet")
    add("--mixup", action="store_true", help="train with mixup")
    add("--mixup-alpha", type=float, help="mixup's Beta(alpha, alpha) (default 0.2; used with --mixup)")
    add("--mixup-off-epoch", dest="mixup_off_epochs", type=int, help="last N epochs without mixup (default 0)")
    add("--label-smoothing", type=float, nargs="?", const=0.1, metavar="EPS",
        help="label smoothing; the bare flag means 0.1 as in GluonCV (default off)")
    add("--no-wd", dest="no_wd", action="store_const", const=True, help="no weight decay on BN and biases")
    add("--last-gamma", dest="last_gamma", action="store_const", const=True,
        help="zero-init the last BN gamma of each residual unit")
    add("--teacher", help="distillation teacher: a published name (weights from the zoo), a registry name with "
                         "--teacher-params FILE, or published names joined by commas (an ensemble)")
    add("--temperature", type=float, help="distillation temperature (default 20)")
    add("--hard-weight", type=float, help="weight of the true-label loss under distillation (default 0.5)")
    add("--batch-norm", action="store_true", help="BN after each convolution of GluonCV's VGG (vgg16 --batch-norm "
        "is vgg16_bn's network)")
    add("--use-gn", action="store_true", help="GluonCV: GroupNorm in place of BN; refused (GluonCV's GroupNorm "
        "cannot be hybridized under MXNet 1.9.1)")
    add("--save-frequency", type=int, help="keep <model>-<epoch>.params every N epochs (default 10); checkpoints "
                                           "for --resume are written every epoch anyway")
    add("--save-dir", help="log, checkpoints, recipe, weights (default params)")
    add("--resume-epoch", type=int, default=0, help="with --resume-params: the epoch to continue from")
    add("--resume-params", help="weights to continue from (GluonCV-style resume; our --resume is exact)")
    add("--resume-states", help="optimizer states (.states) to continue from")
    add("--log-interval", type=int, help="optimizer steps between log records (default 50)")
    add("--logging-file", default="train_imagenet.log", help="also write the printed progress here "
                                                              "(default train_imagenet.log; '' = off)")
    add("--num-training-samples", type=int, help="accepted for GluonCV's commands; not needed (read from the data)")
    add("--dtype", choices=("float32", "float16", "bfloat16", "auto"),
        help="float16 needs a GPU (dynamic loss scaling); bfloat16 needs avx512_bf16/AMX on CPU and is faster only "
             "on some; auto picks the fastest this machine runs correctly and says which (default float32)")
    names = {a.dest for a in g._group_actions}
    add_recipe_arguments(p, skip=names | COVERED)
    return p


def make_recipe(args, base):
    """GluonCV's flags translated onto the recipe (``base``: saved, --recipe, or GluonCV's defaults)."""
    if base is None:
        base = Recipe.load(args.recipe) if args.recipe else Recipe.from_dict(GLUONCV_DEFAULTS)
    if args.use_gn:
        raise BadInput("--use-gn is not supported: GluonCV's GroupNorm cannot be hybridized under MXNet 1.9.1, "
                       "so such a network could not train in hybrid mode, export or quantize")
    if args.num_gpus and args.gpus:
        raise BadInput("give --num-gpus or --gpus, not both")
    if args.num_gpus:
        args.gpus = ",".join(str(i) for i in range(args.num_gpus))
    devices = len((args.gpus or base.gpus).split(",")) if (args.gpus or base.gpus) else 1
    if args.batch_size is not None:
        args.batch_size *= devices
    elif not args.recipe and not args.resume:
        args.batch_size = GLUONCV_DEFAULTS["batch_size"] * devices
    if args.use_rec:
        for split in ("train", "val"):
            key = "rec_" + split
            if getattr(args, key) is None:
                setattr(args, key, os.path.expanduser(os.path.join(IMAGENET, "rec", split + ".rec")))
    if args.lr_decay_epoch:
        args.lr_decay_epochs = tuple(float(v) for v in args.lr_decay_epoch.split(",") if v.strip())
    if args.lr_decay_period:
        epochs = args.epochs or base.epochs
        args.lr_decay_epochs = tuple(range(args.lr_decay_period, epochs, args.lr_decay_period))
    if args.use_pretrained:
        args.pretrained = "zoo"
    for setting in ("use_se", "batch_norm"):  # GluonCV's flags that are model settings of the same name
        if getattr(args, setting):
            args.model_kwargs = dict(args.model_kwargs or base.model_kwargs, **{setting: True})
    alpha = args.mixup_alpha
    if args.mixup:
        args.mixup_alpha = 0.2 if alpha is None else alpha
        if args.mixup_alpha <= 0:
            raise BadInput("--mixup needs a positive --mixup-alpha, got %g" % args.mixup_alpha)
    elif alpha is not None and not base.mixup_alpha:
        warnings.warn("--mixup-alpha without --mixup is ignored (as in GluonCV); add --mixup")
        args.mixup_alpha = None
    if args.resume_epoch and not args.resume_params:
        raise BadInput("--resume-epoch needs --resume-params (or use --resume to continue a checkpoint)")
    recipe = recipe_from_args(args, base)
    if recipe.model == Recipe().model and not args.model and not args.recipe:
        raise BadInput("name the model: --model resnet50_v1d (see gluon_tricks.list_models())")
    return recipe


@as_command
def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    start = None
    if args.resume_params:
        start = {"epoch": args.resume_epoch, "params": args.resume_params, "states": args.resume_states}
    with tee(args.logging_file):
        return train_main(p, args, lambda base: make_recipe(args, base), start=start,
                          default_save_dir=GLUONCV_DEFAULTS["save_dir"])


if __name__ == "__main__":
    main()
