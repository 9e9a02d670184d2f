"""The README's figures and the results pages' main figures are the newest matching records' figures.

Each claim below names a record file, what a matching record is (the bench, its arguments, the CPU
class), the figure as the texts print it, and the texts that state it. A newer run of the same
bench on the same CPU class changes the figure, and this test then fails until the texts follow."""
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = "README.md"
TTA_PAGE = "docs/results/time_to_accuracy.rst"
SPEED_PAGE = "docs/results/speed.rst"
PRECISION_PAGE = "docs/results/precision.rst"
MODELS_PAGE = "docs/results/models.rst"


def records(name):
    with open(os.path.join(ROOT, "bench", "results", name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def cpu_class(machine):
    """AMX, AVX-512 or AVX2: the classes whose figures differ. ``amx`` in a record says the tiles
    were on; the CPU's bf16 flags say it has them (older records carry only those)."""
    if machine.get("amx") or "amx_bf16" in machine.get("cpu_bf16", ()):
        return "amx"
    return "avx512" if machine.get("avx512f") else "avx2"


def newest(name, match):
    found = [r for r in records(name) if match(r)]
    assert found, "no record in %s matches" % name
    return found[-1]


def recipe_file(record):
    recipe = record.get("recipe")
    return recipe.get("file") if isinstance(recipe, dict) else recipe


def ten_seeds(recipe, cpu):
    return newest("time_to_accuracy.jsonl", lambda r: recipe_file(r) == recipe and
                  r.get("over_seeds", {}).get("seeds") == 10 and cpu_class(r["machine"]) == cpu)


def mean_top1(record):
    return "%.2f%%" % (100 * record["over_seeds"]["mean"])


def mean_one_view(record):
    """The mean over seeds without test-time augmentation, from each run's last evaluation."""
    last = [run["epochs"][-1]["test_acc_one_view"] for run in record["runs"] if run["side"] == "ours"]
    return "%.2f%%" % (100 * sum(last) / len(last))


def median_minutes(record):
    return "%.1f min" % (record["over_seeds"]["median_wall"] / 60)


def trainer_ratio(cpu, model, classes, side="ours"):
    r = newest("trainer_vs_gluoncv.jsonl", lambda r: cpu_class(r["machine"]) == cpu and r["args"]["model"] == model
               and r["args"]["classes"] == classes and side in r["img_per_s"])
    return "%.2fx" % (r["img_per_s"][side] / r["img_per_s"]["gluoncv"])


def int8_speed(cpu, model):
    r = newest("inference_precision.jsonl", lambda r: cpu_class(r["machine"]) == cpu and r["args"]["model"] == model)
    return "%.1fx" % (r["results"]["int8"]["32"]["img_per_s"] / r["results"]["float32"]["32"]["img_per_s"])


def int8_largest_change(cpu):
    r = newest("int8_accuracy.jsonl", lambda r: cpu_class(r["machine"]) == cpu)
    return "%.2f points" % max(abs(100 * (row["int8_top1"] - row["float32_top1"])) for row in r["rows"])


def work(record):
    return "%.1f TFLOP" % record["work"]["train_tflop"]


def pipeline(cpu, side):
    """The default loader over .rec against the decode limit, or against the ImageRecordIter backend."""
    r = newest("input_pipeline.jsonl", lambda r: cpu_class(r["machine"]) == cpu)
    ours = next(v for k, v in r["img_per_s"].items() if k.startswith("ours,") and k.endswith("over .rec, complete"))
    if side == "limit":
        return "%.2f of the limit" % (ours / r["img_per_s"]["decode limit (cv2.imdecode)"])
    return "%.1fx" % (ours / r["img_per_s"]["ours, ImageRecordIter backend, complete"])


def published_top1(name):
    with open(os.path.join(ROOT, "model_zoo", name, "metrics.json")) as f:
        return "%.2f%%" % (100 * json.load(f)["top1"])


FASTEST = "model_zoo/fashion_mnist_fastest.yaml"
FASTEST_BF16 = "model_zoo/fashion_mnist_fastest_bf16.yaml"
FEWER_FLOP = "bench/ablation/fewer_flops/fast7_c96.yaml"
CLAIMS = [  # (what, the figure from its record, the texts that state it)
    ("bf16 recipe, ten seeds, AMX: mean", lambda: mean_top1(ten_seeds(FASTEST_BF16, "amx")), [README, TTA_PAGE]),
    ("bf16 recipe, ten seeds, AMX: minutes", lambda: median_minutes(ten_seeds(FASTEST_BF16, "amx")),
     [README, TTA_PAGE]),
    ("fastest recipe, ten seeds, AMX: mean", lambda: mean_top1(ten_seeds(FASTEST, "amx")), [README, TTA_PAGE]),
    ("fastest recipe, ten seeds, AMX: minutes", lambda: median_minutes(ten_seeds(FASTEST, "amx")),
     [README, TTA_PAGE]),
    ("fastest recipe, ten seeds, AVX-512: minutes", lambda: median_minutes(ten_seeds(FASTEST, "avx512")),
     [README, TTA_PAGE]),
    ("fastest recipe, ten seeds, AVX-512: mean", lambda: mean_top1(ten_seeds(FASTEST, "avx512")), [README, TTA_PAGE]),
    ("fastest recipe, ten seeds, AVX-512: mean without TTA", lambda: mean_one_view(ten_seeds(FASTEST, "avx512")),
     [README, TTA_PAGE]),
    ("94% in fewer FLOP, ten seeds, AVX-512: mean", lambda: mean_top1(ten_seeds(FEWER_FLOP, "avx512")),
     [README, TTA_PAGE]),
    ("94% in fewer FLOP, ten seeds, AVX-512: mean without TTA", lambda: mean_one_view(ten_seeds(FEWER_FLOP, "avx512")),
     [README, TTA_PAGE]),
    ("94% in fewer FLOP, ten seeds, AVX-512: minutes", lambda: median_minutes(ten_seeds(FEWER_FLOP, "avx512")),
     [README, TTA_PAGE]),
    ("94% in fewer FLOP: training work", lambda: work(ten_seeds(FEWER_FLOP, "avx512")), [README, TTA_PAGE]),
    ("fastest recipe: training work", lambda: work(ten_seeds(FASTEST, "avx512")), [TTA_PAGE]),
    ("ResNet-50-D vs GluonCV's loop, AVX-512", lambda: trainer_ratio("avx512", "resnet50_v1d", 1000),
     [README, SPEED_PAGE]),
    ("ResNet-20 vs GluonCV's loop, AVX-512", lambda: trainer_ratio("avx512", "cifar_resnet20_v1", 10),
     [README, SPEED_PAGE]),
    ("ResNet-50-D vs GluonCV's loop, AMX", lambda: trainer_ratio("amx", "resnet50_v1d", 1000), [README, SPEED_PAGE]),
    ("ResNet-20 (1000 classes) vs GluonCV's loop, AMX", lambda: trainer_ratio("amx", "cifar_resnet20_v1", 1000),
     [README, SPEED_PAGE]),
    ("MobileNet, fused, vs GluonCV's loop, AMX", lambda: trainer_ratio("amx", "mobilenet1.0", 1000, "ours+"),
     [README, SPEED_PAGE]),
    ("int8 ResNet-50-D throughput, AMX", lambda: int8_speed("amx", "resnet50_v1d"), [README, PRECISION_PAGE]),
    ("int8 ResNet-50-D throughput, AVX-512", lambda: int8_speed("avx512", "resnet50_v1d"), [README, PRECISION_PAGE]),
    ("int8 accuracy, largest change, AVX-512", lambda: int8_largest_change("avx512"),
     [README, PRECISION_PAGE, MODELS_PAGE]),
    ("input pipeline against the decode limit, AVX-512", lambda: pipeline("avx512", "limit"),
     [README, "docs/results/input_pipeline.rst"]),
    ("input pipeline against ImageRecordIter, AVX-512", lambda: pipeline("avx512", "imagerecorditer"),
     [README, "docs/results/input_pipeline.rst"]),
    ("best published model", lambda: published_top1("fashion_mnist_resnet9_w32_e56"), [README, MODELS_PAGE]),
]


@pytest.mark.parametrize("what,figure,texts", CLAIMS, ids=[c[0] for c in CLAIMS])
def test_each_headline_figure_is_its_newest_records(what, figure, texts):
    value = figure()
    for text in texts:
        with open(os.path.join(ROOT, text)) as f:
            body = " ".join(f.read().split())  # rst and markdown wrap lines anywhere
        assert value in body, "%s: the newest record says %s, which %s does not state" % (what, value, text)


def test_cpu_classes_are_told_apart_by_the_recorded_flags():
    assert cpu_class({"amx": True, "avx512f": True}) == "amx"
    assert cpu_class({"avx512f": True, "cpu_bf16": ["amx_bf16", "avx512_bf16"]}) == "amx"
    assert cpu_class({"avx512f": True, "cpu_bf16": ["avx512_bf16"], "amx": False}) == "avx512"
    assert cpu_class({"amx": False, "avx512f": True}) == "avx512"
    assert cpu_class({"avx512f": False}) == "avx2"
