"""A finished training run becomes a published model: its last weights, recipe, log, curves and
measured metrics in ``model_zoo/<name>/``, and an entry in the manifest. The figures are measured
here, on all test images, never copied from the log, so the zoo carries evidence, not claims."""
import json
import os
import shutil

from ..train.checkpoint import Checkpoints
from ..train.config import Recipe
from ..train.report import read_log, time_to_accuracy
from .catalog import HERE, REPOSITORY, _builtin
from .store import sha1_of
from ..errors import BadInput

COPIED = ("recipe.json", "log.jsonl", "curves.png", "classes.json")


def final_weights(run_dir):
    """The last epoch's weights of a finished run (published as they are: not the best epoch's,
    which would be chosen on the test set)."""
    recipe = Recipe.load(os.path.join(run_dir, "recipe.json"))
    log = read_log(os.path.join(run_dir, "log.jsonl"))
    ends = [r for r in log if r.get("kind") == "end"]
    if not ends or ends[-1]["epochs"] != recipe.epochs:
        raise BadInput("%s has not finished training (no end record for its %d epochs): resume it first"
                       % (run_dir, recipe.epochs))
    latest = Checkpoints(run_dir).latest()
    if latest is None:
        raise BadInput("%s has no checkpoint holding its final weights" % run_dir)
    return os.path.join(latest[0], "model.params"), recipe, log


def measure(run_dir, params):
    """Top-1/top-5 on every test image, plain and with flip test-time augmentation, and top-1 on the
    first 1,000 test images (what the repository's quick test re-checks)."""
    import dataclasses

    from ..data import build_test_loader
    from ..inference import Predictor
    from ..train import accuracy_report
    predictor = Predictor.from_run(run_dir, params)
    recipe = dataclasses.replace(predictor.recipe, test_samples=0, batch_size=250)
    loader = build_test_loader(recipe)
    plain = accuracy_report(predictor.net, loader, [predictor.ctx])
    flipped = accuracy_report(predictor.net, loader, [predictor.ctx], tta_flip=True)
    first = accuracy_report(predictor.net, build_test_loader(dataclasses.replace(recipe, test_samples=1000)),
                            [predictor.ctx])
    return {"top1": round(plain["top1"], 4), "top5": round(plain["top5"], 4), "tta_flip_top1": round(flipped["top1"], 4),
            "tta_flip_top5": round(flipped["top5"], 4), "test_images": plain["images"],
            "top1_first_1000_test_images": round(first["top1"], 4)}


def publish(run_dir, name, command, repository=REPOSITORY, manifest=None, note=None, default=True):
    """Copy a finished run into ``repository/model_zoo/name/`` and enter it in ``manifest``
    (default: this package's). Returns the manifest entry. Replaces an earlier entry of ``name``."""
    params, recipe, log = final_weights(run_dir)
    if recipe.dataset == "images":
        raise BadInput("publishing reads the test set by name: a run on your own images (--dataset images) "
                       "needs its entry written by hand")
    metrics = measure(run_dir, params)
    folder = os.path.join(repository, "model_zoo", name)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name + ".params")
    shutil.copyfile(params, target)
    for f in COPIED:
        if os.path.isfile(os.path.join(run_dir, f)):
            shutil.copyfile(os.path.join(run_dir, f), os.path.join(folder, f))
    start = next(r for r in log if r.get("kind") == "start")
    end = [r for r in log if r.get("kind") == "end"][-1]
    sha1 = sha1_of(target)
    source = os.path.relpath(folder, repository)
    entry = {"name": name, "tag": sha1[:8], "sha1": sha1, "default": default, "architecture": recipe.model,
             "settings": dict(recipe.model_kwargs), "inputs": recipe.dataset, "source": source,
             "size": os.path.getsize(target), "top1": round(100 * metrics["top1"], 2),
             "top5": round(100 * metrics["top5"], 2),
             "slice_top1": round(100 * metrics["top1_first_1000_test_images"], 2),
             "recipe": source + "/recipe.json", "log": source + "/log.jsonl", "metrics": source + "/metrics.json",
             "command": command, "train_time_s": round(end["train_time"], 1), "machine": start.get("machine"),
             "license": "Apache-2.0"}
    if note:
        entry["note"] = note
    last_epoch = [r for r in log if r.get("kind") == "epoch"][-1]
    if "ema_test_acc" in last_epoch:  # the weight average, as the run measured it (not published)
        metrics["ema_top1_logged"] = round(last_epoch["ema_test_acc"], 4)
    if "wall_time" in last_epoch and not any(r.get("kind") == "resume" for r in log) \
            and not start.get("earlier_runs_in_process"):
        # as the run measured it, from its process's start (evaluations included); a resumed run has two
        # clocks, and a process that trained another run first started this one's clock too early
        reached = time_to_accuracy(log, [t / 100 for t in range(90, 100)])
        metrics["wall_time_s"] = round(last_epoch["wall_time"], 1)
        metrics["wall_time_to_logged_top1"] = {"%d%%" % round(100 * t): round(s, 1) for t, s in reached.items() if s}
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(dict(metrics, model=recipe.model, settings=dict(recipe.model_kwargs), dataset=recipe.dataset,
                       epochs=recipe.epochs, train_time_s=end["train_time"], machine=start.get("machine"),
                       weights=name + ".params", weights_are="the last epoch's (not the best epoch's)",
                       sha1=sha1, command=command), f, indent=2)
        f.write("\n")
    builtin = manifest is None
    manifest = manifest or os.path.join(HERE, "manifest.json")
    with open(manifest) as f:
        data = json.load(f)
    data["models"] = sorted([m for m in data["models"] if m["name"] != name] + [entry], key=lambda m: m["name"])
    with open(manifest, "w") as f:
        f.write(dump_manifest(data))
    if builtin:
        _builtin.cache_clear()
    return entry


def dump_manifest(data):
    """The manifest's layout: one line per inputs key and per model entry, so a diff shows which changed."""
    lines = ["{"]
    for i, (key, value) in enumerate(data.items()):
        comma = "," if i < len(data) - 1 else ""
        if isinstance(value, (dict, list)):
            items = [("%s: " % json.dumps(k), v) for k, v in value.items()] if isinstance(value, dict) \
                else [("", v) for v in value]
            close = "}" if isinstance(value, dict) else "]"
            lines.append(" %s: %s" % (json.dumps(key), "{" if close == "}" else "["))
            lines += ["  %s%s%s" % (k, json.dumps(v), "," if j < len(items) - 1 else "") for j, (k, v) in enumerate(items)]
            lines.append(" " + close + comma)
        else:
            lines.append(" %s: %s%s" % (json.dumps(key), json.dumps(value), comma))
    return "\n".join(lines) + "\n}\n"
