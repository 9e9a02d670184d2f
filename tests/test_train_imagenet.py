"""scripts/train_imagenet.py: GluonCV's flags mean what they meant there, and it trains on real JPEGs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from gluon_tricks.cli import train_imagenet
from gluon_tricks.train import Recipe

SCRIPT = os.path.join(ROOT, "scripts", "train_imagenet.py")


def recipe_of(*argv):
    args = train_imagenet.parser().parse_args(list(argv))
    return train_imagenet.make_recipe(args, None)


def test_a_published_gluoncv_command_maps_onto_the_recipe():
    # GluonCV's published resnet50_v1d mixup command (model zoo training logs), verbatim flags.
    r = recipe_of("--rec-train", "/media/ramdisk/rec/train.rec", "--rec-train-idx", "/media/ramdisk/rec/train.idx",
                  "--rec-val", "/media/ramdisk/rec/val.rec", "--rec-val-idx", "/media/ramdisk/rec/val.idx",
                  "--model", "resnet50_v1d", "--mode", "hybrid", "--lr", "0.4", "--lr-mode", "cosine",
                  "--num-epochs", "200", "--batch-size", "128", "--num-gpus", "8", "-j", "60", "--use-rec",
                  "--dtype", "float16", "--warmup-epochs", "5", "--no-wd", "--label-smoothing", "--mixup",
                  "--last-gamma", "--save-dir", "params_resnet50_v1d_mixup", "--logging-file", "x.log")
    assert r.batch_size == 128 * 8 and r.gpus == "0,1,2,3,4,5,6,7" and r.data_threads == 60
    assert (r.lr, r.lr_mode, r.epochs, r.warmup_epochs, r.dtype) == (0.4, "cosine", 200, 5, "float16")
    assert r.no_wd and r.last_gamma and r.label_smoothing == 0.1 and r.mixup_alpha == 0.2
    assert (r.rec_train, r.rec_val_idx) == ("/media/ramdisk/rec/train.rec", "/media/ramdisk/rec/val.idx")
    assert r.model == "resnet50_v1d" and r.save_dir == "params_resnet50_v1d_mixup" and r.hybridize


def test_without_flags_the_defaults_are_gluoncvs():
    r = recipe_of("--model", "resnet18_v1b")
    assert (r.batch_size, r.epochs, r.lr, r.wd, r.momentum, r.optimizer) == (32, 3, 0.1, 1e-4, 0.9, "nag")
    assert (r.lr_mode, r.lr_decay, r.lr_decay_epochs, r.warmup_epochs) == ("step", 0.1, (40, 60), 0)
    assert (r.label_smoothing, r.mixup_alpha, r.no_wd, r.last_gamma) == (0.0, 0.0, False, False)
    assert (r.temperature, r.save_dir, r.save_frequency, r.input_size, r.crop_ratio) == (20, "params", 10, 224, 0.875)
    assert r.data_dir == os.path.expanduser("~/.mxnet/datasets/imagenet") and not r.rec_train
    # --use-rec alone reads GluonCV's default .rec paths
    assert recipe_of("--model", "resnet18_v1b", "--use-rec").rec_val.endswith("imagenet/rec/val.rec")


def test_gluoncv_spellings_that_needed_translation():
    r = recipe_of("--model", "resnet18_v1b", "--lr-decay-period", "30", "--num-epochs", "100", "--use_se",
                  "--use-pretrained", "--label-smoothing", "0.2", "--mixup-off-epoch", "5", "--mixup",
                  "--mixup-alpha", "0.4")
    assert r.lr_decay_epochs == (30, 60, 90) and r.model_kwargs == {"use_se": True} and r.pretrained == "zoo"
    assert (r.label_smoothing, r.mixup_off_epochs, r.mixup_alpha) == (0.2, 5, 0.4)
    assert recipe_of("--model", "resnet18_v1b", "--lr-decay-epoch", "30,60,80").lr_decay_epochs == (30, 60, 80)


def test_a_recipe_file_is_the_base_and_flags_override_it():
    path = os.path.join(ROOT, "model_zoo", "resnet50_v1d_imagenet.yaml")
    r = recipe_of("--recipe", path, "--lr", "0.2", "--batch-size", "64", "--num-gpus", "2")
    assert r == Recipe.from_dict(dict(Recipe.load(path).to_dict(), lr=0.2, batch_size=128, gpus="0,1"))


@pytest.mark.parametrize("argv, reason", [
    (["--model", "resnet18_v1b", "--dtype", "float16"], "float16 needs a GPU"),
    (["--model", "resnet18_v1b", "--teacher", "resnet1000"], "unknown model 'resnet1000'"),
    (["--model", "resnet18_v1b", "--mixup", "--mixup-alpha", "0"], "--mixup needs a positive --mixup-alpha"),
    (["--model", "resnet18_v1b", "--use-rec", "--rec-train", "/nowhere/t.rec", "--rec-val", "/nowhere/v.rec"],
     "record file /nowhere/t.rec does not exist"),
    (["--model", "resnet18_v1b", "--batch-norm"], "resnet18_v1b has no setting 'batch_norm'"),
    (["--model", "vgg11", "--model-kwargs", '{"down": "avg"}'],
     "vgg11 is built by GluonCV, whose constructor has no setting 'down'"),
    (["--model", "mobilenet1.0", "--last-gamma"], "MobileNet v1 has no residual units"),
    (["--model", "resnet50_v1b", "--use-gn"], "GroupNorm cannot be hybridized"),
    (["--model", "resnet18_v1b", "--num-gpus", "2", "--gpus", "0,1"], "not both"),
    (["--model", "resnet18_v1b", "--resume-epoch", "3"], "--resume-epoch needs --resume-params"),
    (["--num-epochs", "1"], "name the model"),
])
def test_bad_input_stops_with_one_line(argv, reason, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        train_imagenet.main(argv + ["--save-dir", str(tmp_path / "run"), "--logging-file", ""])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and reason in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_trains_on_packed_jpegs_keeps_every_nth_epoch_and_resumes_gluoncv_style(fashion_jpegs, tmp_path):
    common = ["--model", "cifar_resnet20_v1b", "--use-rec", "--rec-train", str(fashion_jpegs / "train_rec.rec"),
              "--rec-val", str(fashion_jpegs / "val_rec.rec"), "--input-size", "32", "--batch-size", "32",
              "--lr", "0.2", "--lr-mode", "cosine", "--warmup-epochs", "1", "--label-smoothing", "--no-wd",
              "--log-interval", "4", "--save-frequency", "1", "--no-progress", "-j", "2"]
    first = tmp_path / "first"
    run = subprocess.run([sys.executable, SCRIPT, *common, "--num-epochs", "2", "--save-dir", str(first),
                          "--logging-file", str(tmp_path / "train.log")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "epoch 2/2" in open(tmp_path / "train.log").read()
    saved = Recipe.load(str(first / "recipe.json"))
    assert saved.batch_size == 32 and saved.label_smoothing == 0.1 and saved.epochs == 2
    assert (first / "cifar_resnet20_v1b-0001.params").exists() and (first / "cifar_resnet20_v1b-0002.params").exists()

    # GluonCV-style continuation: weights of epoch 1 (optimizer states not required), from epoch 1 on.
    second = tmp_path / "second"
    run = subprocess.run([sys.executable, SCRIPT, *common, "--num-epochs", "2", "--save-dir", str(second),
                          "--resume-epoch", "1", "--resume-params", str(first / "cifar_resnet20_v1b-0001.params"),
                          "--logging-file", ""], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = [json.loads(line) for line in open(second / "log.jsonl")]
    epochs = [r["epoch"] for r in records if r["kind"] == "epoch"]
    assert epochs == [1]  # only the second epoch was trained
    start = next(r for r in records if r["kind"] == "start")
    assert start["state"]["iteration"] == start["steps_per_epoch"]


def test_rgb_mean_and_std_normalise_the_images(fashion_jpegs):
    from gluon_tricks.data import build_loaders
    r = recipe_of("--model", "cifar_resnet20_v1b", "--rgb-mean", "100,110,120", "--rgb-std", "50,60,70",
                  "--input-size", "32", "--rec-train", str(fashion_jpegs / "train_rec.rec"), "--rec-val",
                  str(fashion_jpegs / "val_rec.rec"), "--batch-size", "24")
    assert (r.rgb_mean, r.rgb_std) == ((100, 110, 120), (50, 60, 70))
    # Validation batches are deterministic: undo the normalisation and the pixels are 0..255 again,
    # which they are only with the mean and std the flags gave.
    x = next(build_loaders(r)[1].epoch())[0].asnumpy()
    pixels = x * np.array([50, 60, 70]).reshape(1, 3, 1, 1) + np.array([100, 110, 120]).reshape(1, 3, 1, 1)
    assert pixels.min() > -0.01 and pixels.max() < 255.01 and np.allclose(pixels, np.round(pixels), atol=0.01)
    with pytest.raises(SystemExit):
        recipe_of("--model", "resnet18_v1b", "--rgb-std", "1,2,x")


def test_the_commands_are_installed_and_run():
    import shutil
    beside_python = os.path.join(os.path.dirname(sys.executable), "gt-train-imagenet")
    command = shutil.which("gt-train-imagenet") or (beside_python if os.path.isfile(beside_python) else None)
    assert command, "pip install -e . puts the gt-* commands on the PATH (beside the interpreter)"
    run = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "--rgb-mean" in run.stdout and "GluonCV's flags" in run.stdout
    launch = os.path.join(os.path.dirname(command), "gt-launch")
    run = subprocess.run([launch, "--help"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "gt-launch -n 2 -s 1" in run.stdout and "--num-servers" in run.stdout
    run = subprocess.run([os.path.join(os.path.dirname(command), "gt-horovodrun"), "--help"], capture_output=True,
                         text=True, timeout=120)
    if "not installed" in run.stderr:  # without Horovod: one line that says how to build it
        assert run.returncode == 2 and "install_horovod.sh" in run.stderr and "Traceback" not in run.stderr
    else:
        assert run.returncode == 0 and "--gloo" in run.stdout


# GluonCV's published commands for the paper's other networks (dmlc/web-data, gluoncv/logs/classification/
# imagenet/<name>.sh), verbatim but for the .rec paths.
PUBLISHED_COMMANDS = {
    "mobilenet1.0": "--model mobilenet1.0 --mode hybrid --lr 0.4 --lr-mode cosine --num-epochs 120 --batch-size 128 "
                    "--num-gpus 8 -j 60 --use-rec --dtype float16 --warmup-epochs 5 --no-wd --label-smoothing "
                    "--save-dir params_mobilenet1.0 --logging-file mobilenet1.0.log",
    "mobilenetv2_1.0": "--model mobilenetv2_1.0 --mode hybrid --lr 0.05 --wd 0.00004 --lr-mode cosine --num-epochs 150 "
                       "--batch-size 64 --num-gpus 4 -j 32 --label-smoothing --no-wd --warmup-epochs 5 --use-rec "
                       "--save-dir params_mobilenetv2_1.0 --logging-file mobilenetv2_1.0.log",
    "inceptionv3": "--model inceptionv3 --mode hybrid --input-size 299 --lr 0.4 --lr-mode cosine --num-epochs 200 "
                   "--batch-size 128 --num-gpus 8 -j 60 --use-rec --dtype float16 --warmup-epochs 5 --no-wd "
                   "--label-smoothing --mixup --save-dir params_inceptionv3_mixup --logging-file inceptionv3_mixup.log",
    "resnext50_32x4d": "--model resnext50_32x4d --mode hybrid --lr 0.4 --lr-mode cosine --num-epochs 200 "
                       "--batch-size 128 --num-gpus 8 -j 90 --use-rec --dtype float16 --warmup-epochs 5 --last-gamma "
                       "--no-wd --label-smoothing --mixup --save-dir params_resnext50_32x4d_best "
                       "--logging-file resnext50_32x4d_best.log",
}
# What only a GPU machine has, swapped for this CPU's: devices, loader threads, float16, the batch; the outputs
# go to the test's folder, and the run is one epoch of 8 images.
HARDWARE = [(r"--num-gpus \d+ ", ""), (r"-j \d+ ", "-j 2 "), (r"--dtype float16 ", ""),
            (r"--batch-size \d+ ", "--batch-size 4 "), (r"--save-dir \S+ ", ""), (r"--logging-file \S+", "")]


@pytest.mark.parametrize("name", sorted(PUBLISHED_COMMANDS))
def test_gluoncvs_commands_for_the_papers_other_networks_map_and_train(name, fashion_jpegs, tmp_path):
    import re
    command = PUBLISHED_COMMANDS[name]
    r = recipe_of(*command.split())
    assert r.model == name and r.hybridize and r.lr_mode == "cosine" and r.no_wd and r.label_smoothing == 0.1
    assert r.input_size == (299 if name == "inceptionv3" else 224) and r.last_gamma == (name == "resnext50_32x4d")
    assert r.mixup_alpha == (0.2 if "--mixup" in command else 0.0) and r.warmup_epochs == 5

    for pattern, replacement in HARDWARE:
        command = re.sub(pattern, replacement, command)
    summary = train_imagenet.main(command.split() + [
        "--rec-train", str(fashion_jpegs / "train_rec.rec"), "--rec-val", str(fashion_jpegs / "val_rec.rec"),
        "--num-epochs", "1", "--warmup-epochs", "0.5", "--train-samples", "8", "--test-samples", "8", "--no-progress",
        "--save-dir", str(tmp_path / "run"), "--logging-file", ""])
    assert 0 <= summary["final_test_acc"] <= 1
    saved = Recipe.load(str(tmp_path / "run" / "recipe.json"))
    assert (saved.model, saved.input_size, saved.last_gamma, saved.mixup_alpha, saved.hybridize) == (
        name, r.input_size, r.last_gamma, r.mixup_alpha, True)
