"""Export a trained network for deployment: MXNet symbol + params, ONNX, and a JSON file saying
how inputs must be preprocessed (size, mean, std) and what the classes are.

Writes PREFIX-symbol.json, PREFIX-0000.params (load with mx.gluon.SymbolBlock.imports),
PREFIX.json and, unless --no-onnx, PREFIX.onnx with a dynamic batch axis (needs the onnx
package; --check compares onnxruntime's outputs with MXNet's on random inputs and fails above
1e-4).

examples:
  python scripts/export.py --run runs/fashion-mnist --output exported/fmnist --check
  python scripts/export.py --model resnet50_v1d --use-pretrained --output resnet50_v1d
"""
import argparse
import os

from . import add_weights_arguments, predictor_from_args, program

TOLERANCE = 1e-4


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, metavar="PREFIX", help="path prefix of the files written")
    p.add_argument("--no-onnx", action="store_true", help="only the MXNet symbol and params")
    p.add_argument("--opset", type=int, help="ONNX opset (default: mxnet.onnx's)")
    p.add_argument("--check", action="store_true", help="compare onnxruntime with MXNet (needs onnxruntime)")
    add_weights_arguments(p)
    return p


@program(parser)
def main(args):
    from ..export import export, onnx_difference
    if args.check and args.no_onnx:
        raise ValueError("--check compares the ONNX file: drop --no-onnx")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    predictor = predictor_from_args(args)
    paths = export(predictor, args.output, onnx=not args.no_onnx, opset=args.opset)
    for kind, path in paths.items():
        print("%-6s %s" % (kind, path))
    if args.check:
        diff = onnx_difference(predictor, paths["onnx"])
        print("onnxruntime vs MXNet: max abs difference %.3g (tolerance %g)" % (diff, TOLERANCE))
        if not diff < TOLERANCE:
            raise ValueError("ONNX outputs differ from MXNet's by %.3g > %g" % (diff, TOLERANCE))
        paths["difference"] = diff
    return paths


if __name__ == "__main__":
    main()
