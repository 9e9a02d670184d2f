"""Top-1/top-5 accuracy and throughput of a trained network on a validation set.

Data: the run's own test set (--run), or --rec-val FILE, --data-dir DIR (DIR/val/<class>/*),
or a small data set by name (--dataset fashion-mnist). Preprocessing is the validation
transform (resize to input/crop-ratio, centre crop, normalise) with the input size, crop ratio
and mean/std of the run's recipe or of the published weights. Throughput is images per second
of the whole evaluation, data loading included.

examples:
  python scripts/evaluate.py --run runs/fashion-mnist
  python scripts/evaluate.py --model fashion_mnist_resnet20_v1b --use-pretrained --dataset fashion-mnist
  python scripts/evaluate.py --model resnet50_v1d --use-pretrained --rec-val val.rec --batch-size 64
  python scripts/evaluate.py --model resnet18_v1b --params mine.params --data-dir photos --json out.json
  python scripts/evaluate.py --model fashion_mnist_resnet20_v1b --use-pretrained --dataset fashion-mnist --int8
  python scripts/evaluate.py --exported fm-int8 --dataset fashion-mnist
"""
import argparse
import dataclasses

from . import add_int8_arguments, add_weights_arguments, int8_from_args, predictor_from_args, program, write_json
from ..data import build_test_loader, dataset_names
from ..train import accuracy_report
from ..errors import BadInput


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_weights_arguments(p)
    g = p.add_argument_group("the data (default with --run: the run's test set)")
    g.add_argument("--rec-val", metavar="FILE", help="a validation .rec")
    g.add_argument("--rec-val-idx", metavar="FILE", help="its .idx (default: beside the .rec)")
    g.add_argument("--data-dir", metavar="DIR", help="image folders DIR/val/<class>/*, or a small data set's files")
    g.add_argument("--dataset", choices=dataset_names(), help="a small data set by name")
    g.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    g.add_argument("-j", "--num-data-workers", dest="data_threads", type=int, default=0,
                   help="decoding threads (default: one per core)")
    g.add_argument("--tta-flip", action="store_true", help="average each image's and its mirror image's softmax")
    add_int8_arguments(p, "also evaluate an int8 copy (calibrated here) and report the change against float32")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    return p


def data_recipe(args, base):
    """The recipe whose test set is evaluated: the network's (a run's, or the inputs its published
    weights expect), with the data flags on top."""
    fields = dict(batch_size=args.batch_size, data_threads=args.data_threads)
    if args.dataset:
        fields.update(dataset=args.dataset, data_dir=args.data_dir, test_samples=0)
    elif args.rec_val or args.data_dir:
        fields.update(dataset="images", rec_train=None, rec_val=args.rec_val, rec_val_idx=args.rec_val_idx,
                      data_dir=args.data_dir)
    elif not (args.run or args.exported):
        raise BadInput("name the data: --rec-val FILE, --data-dir DIR or --dataset NAME (or evaluate a --run)")
    return dataclasses.replace(base, **fields)


@program(parser)
def main(args):
    if not (args.run or args.dataset or args.rec_val or args.data_dir or args.exported):
        raise BadInput("name the data: --rec-val FILE, --data-dir DIR or --dataset NAME (or evaluate a --run)")
    predictor = predictor_from_args(args)
    loader = build_test_loader(data_recipe(args, predictor.recipe))
    quantized = int8_from_args(args, predictor) if args.int8 else None
    report = score(predictor, loader, args.tta_flip)
    report.update(model=args.model or predictor.recipe.model,
                  weights=args.params or args.run or args.exported or "published")
    if quantized:
        int8 = score(quantized, loader, args.tta_flip)
        int8.update(calibration={"images": args.calib_images, "mode": args.calib_mode, "data": args.calib_data})
        print("int8 - float32: top-1 %+.2f points, top-5 %+.2f points; %.2fx the img/s" % (
            100 * (int8["top1"] - report["top1"]), 100 * (int8["top5"] - report["top5"]),
            int8["img_per_s"] / report["img_per_s"]))
        report["int8"] = int8
    write_json(args.json, report)
    return report


def score(predictor, loader, tta_flip):
    report = accuracy_report(predictor.net, loader, [predictor.ctx], tta_flip)
    print("%s %s: top-1 %.4f  top-5 %.4f  loss %.4f  on %d images  (%.1f img/s)" % (
        predictor.recipe.model, predictor.dtype, report["top1"], report["top5"], report["loss"], report["images"],
        report["img_per_s"]))
    return dict(report, dtype=predictor.dtype)


if __name__ == "__main__":
    main()
