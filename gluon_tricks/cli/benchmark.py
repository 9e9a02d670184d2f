"""Training and inference speed of any registry model on synthetic data, or a comparison table
of models (params, multiply-adds, forward+backward time, published top-1).

Speed mode (NVIDIA's --prof N): --prof timed iterations after --warmup ones, for each batch size:
training img/s through our full training step (loss, backward, optimizer), inference img/s
and per-batch latency avg/p50/p90/p95/p99 in ms. Compare mode (--compare PATTERN): one row per
matching model, as fb.resnet.torch compared architectures. Both print a markdown table and can
write a JSON report with the machine it ran on. Verified on CPU (float32, bfloat16 where the CPU
has avx512_bf16/AMX); float16 and --gpus were never run here (no GPU).

examples:
  python scripts/benchmark.py --model resnet50_v1d --batch-sizes 1,8,32 --prof 20
  python scripts/benchmark.py --model resnet50_v1d --dtype bfloat16 --mode inference --json r.json
  python scripts/benchmark.py --model resnet50_v1d --dtype int8 --batch-sizes 1,32 --prof 50
  python scripts/benchmark.py --compare 'resnet*_v1[bd]' --batch-sizes 32

--dtype int8 times inference only, through MXNet's oneDNN quantization of the network (see
export.py --int8); it runs on CPUs and is fast on those with avx512_vnni, avx_vnni or amx_int8.
"""
import argparse
import time

from . import write_json, _comma_floats, program
from ..errors import BadInput

SPEED_COLUMNS = [("batch", "batch", "%d"), ("train img/s", "train_img_per_s", "%.1f"),
                 ("infer img/s", "img_per_s", "%.1f"), ("avg ms", "avg_ms", "%.1f"), ("p50 ms", "p50_ms", "%.1f"),
                 ("p90 ms", "p90_ms", "%.1f"),
                 ("p95 ms", "p95_ms", "%.1f"), ("p99 ms", "p99_ms", "%.1f")]
COMPARE_COLUMNS = [("model", "model", "%s"), ("params (M)", "params_m", "%.2f"), ("GMACs", "gmacs", "%.2f"),
                   ("fwd+bwd ms", "fwd_bwd_ms", "%.0f"), ("published top-1", "published_top1", "%.2f")]


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet50_v1d", help="registry model (default resnet50_v1d)")
    p.add_argument("--compare", metavar="PATTERN", help="compare every registry model matching PATTERN instead")
    p.add_argument("--batch-sizes", type=_comma_floats, default=(1, 8, 32),
                   help="comma-separated batch sizes (default 1,8,32; compare mode uses the first)")
    p.add_argument("--size", type=int, help="input size (default 224; 32 for cifar_* models)")
    p.add_argument("--classes", type=int, default=1000, help="classifier size (default 1000)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16", "int8"),
                   help="float16 needs a GPU; bfloat16 needs avx512_bf16 or AMX on CPU; int8: inference on CPU")
    p.add_argument("--mode", default="both", choices=("train", "inference", "both"), help="what to time")
    p.add_argument("--prof", type=int, default=10, metavar="N", help="timed iterations per measurement (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default 3)")
    p.add_argument("--gpus", default="", help="one GPU id to run on; empty = CPU")
    p.add_argument("--no-fuse", action="store_true",
                   help="float32 --mode inference: time the plain graph, not oneDNN's fused one (each BN folded "
                        "into its convolution, ReLU and residual addition fused) that Predictor, evaluate.py and "
                        "classify.py run on CPU")
    p.add_argument("--json", metavar="FILE", help="also write the report (with the machine) as JSON")
    return p


@program(parser)
def main(args):
    from .. import benchmark
    from ..machine import machine_info
    from ..models import model_settings
    from ..train import Precision, parallel

    batches = [int(b) for b in args.batch_sizes]
    if not batches or min(batches) < 1 or args.prof < 1 or args.warmup < 0:
        raise BadInput("batch sizes and --prof must be positive, --warmup >= 0")
    ctxs = parallel.contexts(args.gpus)
    if len(ctxs) > 1:
        raise BadInput("benchmark one device at a time: --gpus 0")
    if args.dtype == "int8" and args.mode == "train":
        raise BadInput("int8 is an inference precision here: --mode inference")
    precision = Precision(args.dtype).check(ctxs) if args.dtype != "int8" else None
    report = {"time": time.strftime("%Y-%m-%d %H:%M"), "machine": machine_info(),
              "args": {k: v for k, v in vars(args).items() if k != "_argv"}}
    if args.compare:
        if not benchmark.registered_names(args.compare):
            raise BadInput("no registry model matches %r" % args.compare)
        rows = benchmark.compare_models(args.compare, batches[0], args.size, args.prof)
        print(benchmark.markdown_table(rows, COMPARE_COLUMNS))
        print("(fwd+bwd: one forward and backward pass at batch %d, float32; GMACs per image)" % batches[0])
    else:
        model_settings(args.model)
        shape = benchmark.input_shape(args.model, args.size)
        if precision is None:
            rows, params, macs = benchmark.int8_rows(args.model, batches, shape, args.prof, args.warmup, args.classes,
                                                     ctxs[0]), None, None
        else:
            rows, params, macs = benchmark.speed_rows(args.model, batches, shape, precision, args.mode, args.prof,
                                                      args.warmup, args.classes, ctxs[0], not args.no_fuse)
        columns = [c for c in SPEED_COLUMNS if any(c[1] in r for r in rows)]
        print("%s, %s, input %dx%dx%d, %s%s" % (args.model, args.dtype, *shape, report["machine"]["cpu"],
              "" if params is None else ", %.2fM params, %.2f GMACs/image" % (params / 1e6, macs / 1e9)))
        print(benchmark.markdown_table(rows, columns))
        report.update(model=args.model, params=params, macs=macs)
    report["rows"] = rows
    write_json(args.json, report, indent=1)
    return report


if __name__ == "__main__":
    main()
