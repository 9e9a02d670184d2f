"""The ablation harness: rows are the recipe changes they claim, statistics are right, runs resume."""
import csv
import dataclasses
import json
import os

import numpy as np
import pytest

from conftest import needs_data

from gluon_tricks import ablate
from gluon_tricks.cli import ablate as script
from gluon_tricks.train import Recipe



def _diff(a, b):
    return {k for k, v in a.to_dict().items() if b.to_dict()[k] != v}


def test_stacked_rows_each_add_exactly_their_trick():
    rows = ablate.row_recipes(Recipe(epochs=10), teacher="cifar_resnet56_v1d", teacher_params="t.params")
    labels = [label for label, _ in rows]
    assert labels == [label for label, _ in ablate.GRID]
    base = rows[0][1]
    assert (base.model, base.lr_mode, base.warmup_epochs, base.label_smoothing, base.no_wd) == \
        ("cifar_resnet20_v1", "step", 0.0, 0.0, False)
    assert base.lr_decay_epochs == (2.5, 5, 7.5)  # the paper's 30, 60, 90 of 120 epochs, scaled
    assert [r.model for _, r in rows[1:4]] == ["cifar_resnet20_v1b", "cifar_resnet20_v1c", "cifar_resnet20_v1d"]
    expected = [{"model"}, {"model"}, {"model"}, {"lr_mode", "lr_decay_epochs", "warmup_epochs"}, {"label_smoothing"}, {"mixup_alpha"},
                {"last_gamma"}, {"no_wd"}, {"teacher", "teacher_params"}]  # temperature/hard_weight keep defaults
    assert [_diff(rows[i][1], rows[i + 1][1]) for i in range(len(rows) - 1)] == expected
    assert rows[-1][1].model == "cifar_resnet20_v1d" and rows[-1][1].mixup_alpha == 0.2  # everything stacked


def test_independent_rows_change_only_the_baseline_by_their_trick():
    rows = dict(ablate.row_recipes(Recipe(epochs=10), grid=ablate.GRID[:-1], independent=True))
    assert _diff(rows["baseline"], rows["+ mixup"]) == {"mixup_alpha"}
    assert rows["+ no bias decay"].lr_mode == "step"


def test_summary_statistics_and_report_files(tmp_path):
    summary = ablate.summarise({"baseline": [0.90, 0.92], "+ x": [0.93, 0.95, 0.94]})
    assert summary[0]["mean"] == pytest.approx(91.0) and summary[0]["std"] == pytest.approx(np.std([90, 92], ddof=1))
    assert summary[1]["n"] == 3 and summary[1]["min"] == pytest.approx(93.0)
    paths = ablate.write_report(summary, str(tmp_path), "t")
    assert "| + x | 94.00 | 1.00 | 93.00 | 95.00 | +3.00 |  |" in open(paths["markdown"]).read()  # 2 vs 3 seeds: no pairs
    assert os.path.getsize(paths["chart"]) > 1000


@needs_data
def test_the_script_runs_rows_with_seeds_reuses_finished_runs_and_distils(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--seeds", "0,1", "--rows", "+ label smoothing,+ distillation",
            "--teacher", "cifar_resnet20_v1d", "--train-teacher", "--epochs", "1", "--train-samples", "512",
            "--test-samples", "256", "--batch-size", "64", "--log-interval", "4"]
    summary = script.main(argv)
    assert [s["row"] for s in summary] == ["baseline", "+ label smoothing", "+ distillation"]
    assert all(s["n"] == 2 and 0 <= s["min"] <= s["max"] <= 100 for s in summary)
    assert os.path.isfile(tmp_path / "teacher" / "best.params")
    with open(tmp_path / "table.csv") as f:
        assert [r["row"] for r in csv.DictReader(f)] == ["baseline", "+ label smoothing", "+ distillation"]
    capsys.readouterr()
    again = script.main(argv)  # everything is reused, nothing retrained
    assert [s["values"] for s in again] == [s["values"] for s in summary]
    assert "training" not in capsys.readouterr().out.replace("training images", "")
    with pytest.raises(SystemExit):  # another budget must not pick up these results
        script.main([a if a != "512" else "640" for a in argv])
    assert "holds a run of another recipe (train_samples differ)" in capsys.readouterr().err


def test_bad_rows_and_seeds_stop_with_one_line(tmp_path, capsys):
    for argv, reason in ((["--rows", "+ nothing"], "unknown row"), (["--seeds", "a"], "comma-separated integers"),
                         (["--rows", "+ distillation"], "needs --teacher"),
                         (["--grid", "fb-optimizers", "--rows", "adam, lr 0.01; nothing"], "unknown row(s) ['nothing']"),
                         (["--jobs", "0"], "--jobs must be >= 1")):
        with pytest.raises(SystemExit):
            script.main(argv + ["--out", str(tmp_path)])
        assert reason in capsys.readouterr().err


def test_a_grid_file_changes_the_recipe_as_it_is_one_row_at_a_time(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text("rows:\n  - [reference, {}]\n  - [smoothing 0.2, {label_smoothing: 0.2}]\n"
                    "  - [no crop, {pad_crop: 0, epochs: 4}]\n")
    base = Recipe(epochs=6, lr_mode="linear", warmup_epochs=2, model="cifar_resnet9")
    rows = ablate.row_recipes(base, ablate.load_grid(str(grid)), independent=True, paper_baseline=False)
    assert rows[0] == ("reference", base)  # not the paper's baseline: the recipe itself
    assert _diff(base, rows[1][1]) == {"label_smoothing"} and _diff(base, rows[2][1]) == {"pad_crop", "epochs"}
    for text, reason in (("rows: [[a, {}], [a, {lr: 1}]]", "repeats a row label"),
                         ("rows: [[a, {lr: 1, speed: 2}]]", "unknown recipe field(s) speed"),
                         ("rows: {a: 1}", "needs 'rows:")):
        grid.write_text(text)
        with pytest.raises(SystemExit):
            script.main(["--grid", str(grid), "--out", str(tmp_path / "out")])
        assert reason in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["--grid", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "out")])
    assert "unknown grid" in capsys.readouterr().err


@needs_data
def test_a_grid_file_trains_its_rows_on_the_recipe_file(tmp_path):
    recipe, grid = tmp_path / "r.yaml", tmp_path / "g.yaml"
    recipe.write_text("model: cifar_resnet9\nmodel_kwargs: {channels: [8, 8, 16, 16]}\nepochs: 1\nlr_mode: linear\n"
                      "warmup_epochs: 0.5\ntrain_samples: 256\ntest_samples: 128\nbatch_size: 64\nlog_interval: 2\n")
    grid.write_text("rows:\n  - [reference, {}]\n  - [no flip, {flip: false}]\n")
    summary = script.main(["--recipe", str(recipe), "--grid", str(grid), "--seeds", "0", "--out", str(tmp_path / "o")])
    assert [s["row"] for s in summary] == ["reference", "no flip"]
    saved = Recipe.load(str(tmp_path / "o" / "no_flip" / "seed0" / "recipe.json"))
    assert (saved.flip, saved.warmup_epochs, saved.lr_mode, saved.model) == (False, 0.5, "linear", "cifar_resnet9")
    assert "# g: reference cifar_resnet9" in (tmp_path / "o" / "table.md").read_text()


def test_fb_resnet_torch_grids_change_one_thing_each_on_the_b_baseline():
    blocks = ablate.row_recipes(Recipe(epochs=10), grid=ablate.FB_BLOCKS, independent=True)
    base = blocks[0][1]
    assert base.model == "cifar_resnet20_v1b" and base.lr_mode == "step" and base.optimizer == "nag"
    assert [r.model_kwargs for _, r in blocks[1:]] == [{"bn_after_add": True}, {"relu_after_add": False}]
    assert all(_diff(base, r) == {"model_kwargs"} for _, r in blocks[1:])
    optimizers = ablate.row_recipes(Recipe(epochs=10), grid=ablate.FB_OPTIMIZERS, independent=True)
    settings = {(r.optimizer, r.lr, json.dumps(r.optimizer_params)) for _, r in optimizers}
    assert len(optimizers) == len(settings) == 1 + sum(len(v) for _, v in ablate.OPTIMIZER_STEPS.values()) >= 15
    assert all(_diff(optimizers[0][1], r) <= {"optimizer", "lr", "optimizer_params"} for _, r in optimizers[1:])
    assert {r.optimizer for _, r in optimizers} == {"nag", "rmsprop", "adadelta", "adagrad", "adam"}


def _one_step(recipe):
    """The weights of a small net after one step of the recipe's trainer from a fixed start."""
    import mxnet as mx
    from mxnet import autograd, gluon
    from gluon_tricks.train.step import build_trainer
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(mx.init.Constant(0.5))
    trainer = build_trainer(recipe, net)
    x = mx.nd.array(np.arange(8).reshape(2, 4) / 8.0)
    with autograd.record():
        loss = (net(x) - mx.nd.array([[1, 0, 0], [0, 1, 0]])).square().sum()
    loss.backward()
    trainer.step(2)
    return net.weight.data().asnumpy()


def test_each_optimizer_row_changes_the_update_mxnet_makes():
    """Three rows of one optimizer must be three different optimizers: MXNet's AdaDelta ignores the
    learning rate, so its rows vary epsilon (rows that only changed lr would train the same run)."""
    rows = ablate.row_recipes(Recipe(epochs=10), grid=ablate.FB_OPTIMIZERS, independent=True)
    steps = {}
    for label, recipe in rows:
        steps.setdefault(ablate.optimizer_of(label), []).append(_one_step(recipe))
    for name, weights in steps.items():
        for i in range(len(weights)):
            for j in range(i):
                assert not np.allclose(weights[i], weights[j], rtol=1e-4, atol=1e-7), name
    # the trap the grid avoids: two learning rates, one AdaDelta update
    lr_only = [_one_step(Recipe(epochs=10, optimizer="adadelta", lr=lr)) for lr in (0.3, 3.0)]
    assert np.allclose(lr_only[0], lr_only[1])


def test_optimizer_settings_mxnet_does_not_take_stop_before_training():
    from gluon_tricks.train.step import check_optimizer
    check_optimizer("adam", {"beta1": 0.95})
    with pytest.raises(ValueError, match="adadelta does not take"):
        check_optimizer("adadelta", {"beta1": 0.95})


def test_steps_are_paired_by_seed_against_the_row_above_or_the_baseline(tmp_path):
    summary = ablate.summarise({"baseline": [0.80, 0.90, 0.85], "+ a": [0.81, 0.91, 0.87], "+ b": [0.80, 0.92, 0.86]})
    above, alone = ablate.paired_steps(summary), ablate.paired_steps(summary, stacked=False)
    assert above[0] is None and alone[0] is None
    assert above[1] == pytest.approx((4 / 3, np.std([1, 1, 2], ddof=1) / np.sqrt(3)))  # seed-wise: +1, +1, +2
    assert above[2] == pytest.approx((-1 / 3, np.std([-1, 1, -1], ddof=1) / np.sqrt(3)))
    assert alone[2] == pytest.approx((1.0, 1 / np.sqrt(3)))  # +0, +2, +1 against the baseline
    paths = ablate.write_report(summary, str(tmp_path), "t")
    assert "| +1.33 +- 0.33 |" in open(paths["markdown"]).read()
    rows = list(csv.DictReader(open(paths["csv"])))
    assert [r["step_mean"] for r in rows] == ["", "1.3333", "-0.3333"]


def test_a_table_names_the_machines_its_record_trained_on(tmp_path):
    record = tmp_path / "runs.jsonl"
    xeon = {"cpu": "Xeon", "cores": 2, "cpu_bf16": ["amx_bf16"], "mxnet": "1.9.1"}
    lines = [("baseline", 0, dict(xeon, omp_num_threads="2")), ("+ x", 0, dict(xeon, omp_num_threads="1")),
             ("baseline", 1, dict(xeon, omp_num_threads="2", amx=True)),  # the same CPU with oneDNN on its tiles
             ("+ x", 1, {"cpu": "EPYC", "cores": 2, "cpu_bf16": [], "mxnet": "1.9.1", "omp_num_threads": "2"}),
             ("other", 0, {"cpu": "Elsewhere", "cores": 64})]  # not a row of this table
    record.write_text("".join(json.dumps({"row": r, "seed": k, "machine": m}) + "\n" for r, k, m in lines))
    notes = ablate.report_notes(str(record), ["baseline", "+ x"], [0, 1], command="python scripts/ablate.py --x")
    assert notes == ["Machine: Xeon, 2 cores, bf16 flags: amx_bf16, MXNet 1.9.1, 1 or 2 thread(s) a run",
                     "Machine: Xeon, 2 cores, bf16 flags: amx_bf16 (AMX tiles on), MXNet 1.9.1, 2 thread(s) a run",
                     "Machine: EPYC, 2 cores, bf16 flags: none, MXNet 1.9.1, 2 thread(s) a run",
                     "Regenerate (finished runs are read from the record, not retrained): `python scripts/ablate.py --x`"]
    summary = ablate.summarise({"baseline": [0.9], "+ x": [0.91]})
    text = open(ablate.write_report(summary, str(tmp_path), "t", notes=notes)["markdown"]).read()
    assert text.endswith("thread(s) a run  \nRegenerate (finished runs are read from the record, not retrained): "
                         "`python scripts/ablate.py --x`  \n")


def test_each_optimizer_is_reported_at_its_best_learning_rate():
    summary = ablate.summarise({"baseline": [0.90], "nag, lr 0.2": [0.91], "adam, lr 0.001": [0.85],
                                "adam, lr 0.003": [0.87]})
    assert [s["row"] for s in ablate.best_per_group(summary)] == ["nag, lr 0.2", "adam, lr 0.003"]


@needs_data
def test_a_record_of_finished_runs_lets_another_machine_continue_the_grid(tmp_path, capsys):
    record = str(tmp_path / "committed" / "runs.jsonl")
    argv = ["--grid", "fb-blocks", "--rows", "no ReLU after addition", "--seeds", "0", "--epochs", "1",
            "--train-samples", "256", "--test-samples", "128", "--batch-size", "64", "--record", record]
    first = script.main(argv + ["--out", str(tmp_path / "machine1")])
    lines = [json.loads(line) for line in open(record)]
    assert [(r["row"], r["seed"]) for r in lines] == [("baseline", 0), ("no ReLU after addition", 0)]
    assert lines[1]["recipe"]["model_kwargs"] == {"relu_after_add": False} and "cpu" in lines[1]["machine"]
    table = open(tmp_path / "machine1" / "table.md").read()
    assert "Machine: %s, " % lines[0]["machine"]["cpu"] in table
    assert "`python scripts/ablate.py --grid fb-blocks --rows 'no ReLU after addition' --seeds 0" in table
    capsys.readouterr()
    second = script.main(argv + ["--out", str(tmp_path / "machine2")])  # no run folders there: the record serves
    assert [s["values"] for s in second] == [s["values"] for s in first]
    assert "seed 0: training" not in capsys.readouterr().out and not os.path.exists(tmp_path / "machine2" / "baseline")
    with pytest.raises(SystemExit):
        script.main([a if a != "256" else "320" for a in argv] + ["--out", str(tmp_path / "machine3")])
    assert "the record holds 'baseline' seed 0 with another recipe (train_samples differ)" in capsys.readouterr().err


@needs_data
def test_jobs_train_runs_in_worker_processes_and_keep_what_finished_when_one_fails(tmp_path, capsys):
    before = os.environ.get("OMP_NUM_THREADS")
    small = Recipe(epochs=1, train_samples=256, test_samples=128, batch_size=64, warmup_epochs=0.0)
    broken = dataclasses.replace(small, teacher="cifar_resnet20_v1", teacher_params=str(tmp_path / "missing.params"))
    record = str(tmp_path / "runs.jsonl")
    with pytest.raises(ablate.RunsFailed, match=r"1 of 2 runs failed: \[broken\] seed 0: .*missing.params"):
        ablate.run_grid([("ok", small), ("broken", broken)], [0], str(tmp_path / "out"), record=record, jobs=2)
    assert [json.loads(line)["row"] for line in open(record)] == ["ok"]  # the finished run is kept
    assert "Traceback" in open(tmp_path / "out" / "broken" / "seed0" / "output.txt").read()
    output = open(tmp_path / "out" / "ok" / "seed0" / "output.txt").read()
    assert "epoch 1/1" in output and "epoch 1/1" not in capsys.readouterr().out  # the worker's, not ours
    start = json.loads(open(tmp_path / "out" / "ok" / "seed0" / "log.jsonl").readline())
    assert start["machine"]["omp_num_threads"] == str(max(1, int(before or os.cpu_count()) // 2))  # ours / jobs
    assert os.environ.get("OMP_NUM_THREADS") == before  # ours is as it was
    again = ablate.run_grid([("ok", small)], [0], str(tmp_path / "elsewhere"), record=record, jobs=2)
    assert again == {"ok": [json.loads(open(record).readline())["final_test_acc"]]}
