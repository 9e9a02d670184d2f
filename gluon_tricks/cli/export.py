"""Export a trained network for deployment: MXNet symbol + params, ONNX, and a JSON file saying
how inputs must be preprocessed (size, mean, std) and what the classes are.

Writes PREFIX-symbol.json, PREFIX-0000.params (load with mx.gluon.SymbolBlock.imports),
PREFIX.json and, unless --no-onnx, PREFIX.onnx with a dynamic batch axis (needs the onnx
package; --check compares onnxruntime's outputs with MXNet's on random inputs and fails above
1e-4).

examples:
  python scripts/export.py --run runs/fashion-mnist --output exported/fmnist --check
  python scripts/export.py --model resnet50_v1d --use-pretrained --output resnet50_v1d
  python scripts/export.py --model fashion_mnist_resnet20_v1b --use-pretrained --int8 --output fm-int8 --check

--int8 writes MXNet's quantized graph instead (symbol + params + PREFIX.json, no ONNX), calibrated
on training images; --check then reloads the files, compares them with the network in memory and
prints how often int8 and float32 agree on the top class of the calibration images. Load it with
--exported PREFIX in evaluate.py, classify.py and benchmark.py.
"""
import argparse
import os

from . import add_int8_arguments, add_weights_arguments, int8_from_args, predictor_from_args, program
from ..errors import BadInput

TOLERANCE = 1e-4


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, metavar="PREFIX", help="path prefix of the files written")
    p.add_argument("--no-onnx", action="store_true", help="only the MXNet symbol and params")
    p.add_argument("--opset", type=int, help="ONNX opset (default: mxnet.onnx's)")
    p.add_argument("--check", action="store_true", help="compare onnxruntime with MXNet (needs onnxruntime); with "
                                                        "--int8: the reloaded files with the network in memory")
    add_weights_arguments(p)
    add_int8_arguments(p, "write an int8 network (MXNet's oneDNN quantization, calibrated here; no ONNX)")
    return p


@program(parser)
def main(args):
    from ..export import export, int8_agreement, onnx_difference
    if args.check and args.no_onnx and not args.int8:
        raise BadInput("--check compares the ONNX file: drop --no-onnx")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    predictor = predictor_from_args(args)
    if args.int8:
        fp32, predictor = predictor, int8_from_args(args, predictor)
    paths = export(predictor, args.output, onnx=not (args.no_onnx or args.int8), opset=args.opset)
    for kind, path in paths.items():
        print("%-6s %s" % (kind, path))
    if args.check and args.int8:
        paths.update(int8_agreement(fp32, predictor, args.output))
        print("reloaded int8 files vs the network in memory: max abs difference %.3g; int8 and float32 agree on the "
              "top class of %.1f%% of %d calibration images" % (paths["reload_difference"], 100 * paths["agreement"],
                                                               paths["agreement_images"]))
        if paths["reload_difference"] > TOLERANCE:
            raise BadInput("the reloaded int8 network differs from the one in memory by %.3g"
                           % paths["reload_difference"])
    elif args.check:
        diff = onnx_difference(predictor, paths["onnx"])
        print("onnxruntime vs MXNet: max abs difference %.3g (tolerance %g)" % (diff, TOLERANCE))
        if not diff < TOLERANCE:
            raise BadInput("ONNX outputs differ from MXNet's by %.3g > %g" % (diff, TOLERANCE))
        paths["difference"] = diff
    return paths


if __name__ == "__main__":
    main()
