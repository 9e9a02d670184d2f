"""TensorBoard event files, written without TensorFlow: read back by TensorBoard's own reader."""
import struct

import pytest

from gluon_tricks.train.report import EventLog, masked_crc32c

pytest.importorskip("tensorboard", reason="tensorboard (the test extra) reads the files back")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def scalars(folder):
    """{tag: [(step, value)]} as TensorBoard reads the folder."""
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_crc32c_is_castagnolis():
    # The standard check value of CRC-32C is 0xE3069283 for b"123456789"; TFRecord masks it.
    crc = 0xE3069283
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_intervals_and_epochs_read_back_by_tensorboard(tmp_path):
    log = EventLog(str(tmp_path))
    log.write({"kind": "start", "recipe": {"lr": 0.1}})  # not a scalar record: skipped
    log.write({"kind": "interval", "epoch": 0, "iter": 50, "epoch_float": 0.5, "loss": 1.25, "lr": 0.0625})
    log.write({"kind": "interval", "epoch": 0, "iter": 100, "epoch_float": 1.0, "loss": 0.75, "lr": 0.125})
    log.write({"kind": "epoch", "epoch": 0, "train_acc": 0.5, "test_acc": 0.625, "img_per_s": 1000.0,
               "epoch_time": 12.5, "skipped_images": 0, "ok": True})
    log.write({"kind": "epoch", "epoch": 1, "train_acc": 0.75, "test_acc": 0.875, "img_per_s": 1500.0,
               "epoch_time": 10.0, "skipped_images": 0})
    read = scalars(tmp_path)
    assert read["interval/loss"] == [(50, 1.25), (100, 0.75)]
    assert read["interval/lr"] == [(50, 0.0625), (100, 0.125)]  # float32, exact for these
    assert read["epoch/test_acc"] == [(1, 0.625), (2, 0.875)]  # step: epochs done
    assert read["epoch/train_acc"] == [(1, 0.5), (2, 0.75)]
    assert read["epoch/img_per_s"] == [(1, 1000.0), (2, 1500.0)] and read["epoch/epoch_time"] == [(1, 12.5), (2, 10.0)]
    assert "epoch/ok" not in read and "epoch/epoch" not in read and "interval/iter" not in read


def test_a_damaged_record_is_refused_by_the_reader(tmp_path):
    """The checksums are real: TensorBoard's reader stops at a record whose data was changed."""
    log = EventLog(str(tmp_path))
    log.write({"kind": "epoch", "epoch": 0, "test_acc": 0.5})
    log.write({"kind": "epoch", "epoch": 1, "test_acc": 0.75})
    data = bytearray(open(log.path, "rb").read())
    first = 8 + 4 + struct.unpack("<Q", data[:8])[0] + 4  # the file-version record's end
    second_data = first + 12
    data[second_data + 3] ^= 0xFF  # a byte of its wall time: parses, but fails the checksum
    open(log.path, "wb").write(bytes(data))
    assert scalars(tmp_path).get("epoch/test_acc", []) == []


def test_no_folder_writes_nothing(tmp_path):
    log = EventLog(None)
    log.write({"kind": "epoch", "epoch": 0, "test_acc": 0.5})
    assert log.path is None and list(tmp_path.iterdir()) == []


def test_two_logs_in_one_folder_and_second_get_a_file_each(tmp_path):
    first, second = EventLog(str(tmp_path)), EventLog(str(tmp_path))
    first.write({"kind": "epoch", "epoch": 0, "test_acc": 0.5})
    second.write({"kind": "epoch", "epoch": 1, "test_acc": 0.75})  # a resumed run, say
    assert first.path != second.path and len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert scalars(tmp_path)["epoch/test_acc"] == [(1, 0.5), (2, 0.75)]
