"""
Export and deploy: ONNX, latency, int8
======================================

A trained network leaves the toolkit as files: MXNet's symbol and parameters, an ONNX model, and a
JSON file saying how inputs must be prepared. Here the published Fashion-MNIST model is exported,
checked against ONNX Runtime, timed, and quantized to int8 with MXNet's own quantization.
"""

# %%
# Export
# ------
# :class:`~gluon_tricks.inference.Predictor` is a network with the preprocessing its weights expect;
# :func:`~gluon_tricks.export.export` writes it out (``scripts/export.py`` does the same from the
# command line).
import json
import os
import tempfile

from gluon_tricks.export import export, onnx_difference
from gluon_tricks.inference import Predictor

predictor = Predictor.from_model("fashion_mnist_resnet20_v1b", True)
prefix = os.path.join(tempfile.mkdtemp(), "fashion")
paths = export(predictor, prefix)
for kind, path in paths.items():
    print("%-6s %s (%d kB)" % (kind, os.path.basename(path), os.path.getsize(path) // 1024))
meta = json.load(open(paths["meta"]))
print({k: meta[k] for k in ("input_shape", "mean", "std", "dtype")})

# %%
# ONNX Runtime computes what MXNet computes
# -----------------------------------------
print("largest output difference, ONNX Runtime vs MXNet: %.2g" % onnx_difference(predictor, paths["onnx"]))

# %%
# Latency
# -------
# Batch-1 latency and batch-64 throughput of the float32 network on this machine
# (``scripts/benchmark.py`` measures any registry model the same way; ``bench/`` holds the
# side-by-side comparisons and their machines).
from gluon_tricks.benchmark import inference_latency
from gluon_tricks.machine import machine_info

print("machine:", machine_info()["cpu"])
shape = (1, 28, 28)
for batch in (1, 64):
    r = inference_latency(predictor.net, batch, shape, iters=30)
    print("float32, batch %2d: p50 %.2f ms, p99 %.2f ms, %.0f img/s" % (batch, r["p50_ms"], r["p99_ms"], r["img_per_s"]))

# %%
# int8
# ----
# :meth:`~gluon_tricks.inference.Predictor.quantized` runs MXNet's quantization (oneDNN):
# convolutions and the classifier in int8 with BN and ReLU fused in, thresholds calibrated on
# training images seen through the validation transform. The accuracy change is measured on the
# whole test set; the speed gain depends on the CPU (VNNI or AMX int8 instructions make it large).
import mxnet as mx

from gluon_tricks.data import build_test_loader, calibration_loader
from gluon_tricks.quantize import calibration_batches
from gluon_tricks.train import accuracy_report

images = calibration_batches(calibration_loader(predictor.recipe, 512), 512)
int8 = predictor.quantized(images)
test = build_test_loader(predictor.recipe)
for p in (predictor, int8):
    acc = accuracy_report(p.net, test, [mx.cpu()])["top1"]
    r = inference_latency(p.net, 64, shape, iters=30)
    print("%-7s top-1 %.2f%%, batch 64: %.0f img/s" % (p.dtype, 100 * acc, r["img_per_s"]))

# %%
# The int8 network is saved like any other and loads back with
# :meth:`~gluon_tricks.inference.Predictor.from_exported` (``--exported PREFIX`` in the scripts).
int8_paths = export(int8, prefix + "-int8", onnx=False)
again = Predictor.from_exported(prefix + "-int8")
print(again.dtype, again.classes[:3], "...")
