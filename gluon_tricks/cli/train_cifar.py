"""Train a small-input ResNet on Fashion-MNIST, CIFAR-10 or CIFAR-100.

Default recipe (model_zoo/fashion_mnist_resnet20_v1b.yaml): cifar_resnet20_v1b, NAG momentum
0.9, batch 128, lr 0.1 with one epoch of linear warmup then cosine to 0, label smoothing 0.1,
weight decay 5e-4 except on BN and biases, pad-2 random crop + flip, hybridized, 15 epochs.

Writes to --save-dir: log.jsonl (appended), curves.png, recipe.json, best.params and
checkpoints/ (model, optimizer state, EMA, schedule position); --resume continues the newest
checkpoint there. Verified on CPU only (MXNet 1.9.1, 2 cores); the --gpus and float16 paths
are written but were never run on a GPU.

Recipes in model_zoo/: cifar10_resnet9_fast.yaml (Myrtle.ai's ResNet-9: one-cycle lr, label
smoothing 0.2, cutout, 24 epochs) and cifar10_resnet56_classic.yaml (He et al.'s ResNet-20/56/110
schedule, 164 epochs); CIFAR files are read from --data-dir (python or binary distribution).

examples:
  python scripts/train_cifar.py --epochs 2 --warmup-epochs 0.3 --train-samples 5000
  python scripts/train_cifar.py --recipe model_zoo/cifar10_resnet9_fast.yaml --data-dir ~/cifar-10-batches-py
  python scripts/train_cifar.py --recipe model_zoo/cifar10_resnet56_classic.yaml --model cifar_resnet110_v1
  python scripts/train_cifar.py --mixup-alpha 0.2 --mixup-off-epochs 2 --ema-decay 0.999
  python scripts/train_cifar.py --recipe model_zoo/fashion_mnist_resnet20_v1b.yaml --lr 0.2
  python scripts/train_cifar.py --save-dir runs/a --resume
"""
import argparse

from . import add_recipe_arguments, add_run_arguments, as_command, recipe_from_args, train_main


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p)
    add_recipe_arguments(p)
    return p


@as_command
def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    return train_main(p, args, lambda base: recipe_from_args(args, base))


if __name__ == "__main__":
    main()
