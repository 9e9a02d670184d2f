"""Downloading weights against a real HTTP server on 127.0.0.1 that the test starts and shapes
like GluonCV's repository: good, corrupt, truncated, missing, stalled, failing once, contended."""
import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import zip_of as _zip
from gluon_tricks.zoo import store

PARAMS = os.urandom(50_000)  # stands in for a .params file
SHA1 = hashlib.sha1(PARAMS).hexdigest()
STEM = "tiny_v1-" + SHA1[:8]


def fetch(repo, root, **kw):
    kw.setdefault("backoff", 0.01)
    return store.fetch("tiny_v1", SHA1, str(root), repo=repo.url, **kw)


def test_a_good_file_is_verified_cached_and_not_fetched_again(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS))
    path = fetch(repo, tmp_path)
    assert path == str(tmp_path / (STEM + ".params")) and open(path, "rb").read() == PARAMS
    assert fetch(repo, tmp_path) == path and sum(repo.hits.values()) == 1
    assert sorted(os.listdir(tmp_path)) == [STEM + ".lock", STEM + ".params"]  # no partial files left


def test_a_corrupt_file_is_refused_and_removed(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS[:-1] + bytes([PARAMS[-1] ^ 0xFF])))
    with pytest.raises(store.ChecksumError, match="has sha1 [0-9a-f]{40}, the published one is %s" % SHA1):
        fetch(repo, tmp_path)
    assert not any(n.endswith((".params", ".zip")) or ".part" in n for n in os.listdir(tmp_path))


def test_a_wrong_file_in_the_cache_is_replaced(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS))
    (tmp_path / (STEM + ".params")).write_bytes(b"left over from a broken copy")
    assert open(fetch(repo, tmp_path), "rb").read() == PARAMS and sum(repo.hits.values()) == 1


def test_a_truncated_transfer_is_retried_then_named(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS), "truncated")
    with pytest.raises(store.ZooError, match="failed 3 times, last: short body"):
        fetch(repo, tmp_path, retries=2)
    assert sum(repo.hits.values()) == 3 and not (tmp_path / (STEM + ".params")).exists()


def test_a_missing_file_names_the_url_and_the_mirror_setting_without_retrying(repo, tmp_path):
    with pytest.raises(store.ZooError, match=r"gluon/models/%s\.zip: HTTP 404.*MXNET_GLUON_REPO" % STEM):
        fetch(repo, tmp_path)
    assert sum(repo.hits.values()) == 1


def test_a_server_error_is_retried(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS), "500 once")
    assert open(fetch(repo, tmp_path), "rb").read() == PARAMS and sum(repo.hits.values()) == 2


def test_a_stalled_server_times_out_in_bounded_time(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS), "stall")
    tic = time.time()
    with pytest.raises(store.ZooError, match="failed 2 times"):
        fetch(repo, tmp_path, timeout=0.5, retries=1)
    assert time.time() - tic < 5


def test_a_zip_without_the_parameters_file_is_named(repo, tmp_path):
    repo.publish(STEM, _zip("something_else.params", PARAMS))
    with pytest.raises(store.ZooError, match=r"holds no %s\.params \(it has: something_else\.params\)" % STEM):
        fetch(repo, tmp_path)
    repo.publish(STEM, b"<html>not found</html>")
    with pytest.raises(store.ChecksumError, match="not a zip archive"):
        fetch(repo, tmp_path)


def test_offline_mode_never_touches_the_network(repo, tmp_path, monkeypatch):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS))
    monkeypatch.setenv(store.OFFLINE_ENV, "1")
    with pytest.raises(store.ZooError, match="GLUON_TRICKS_OFFLINE=1: not downloading .* put %s.params" % STEM):
        fetch(repo, tmp_path)
    assert repo.hits == {}
    (tmp_path / (STEM + ".params")).write_bytes(PARAMS)  # a cache filled by hand serves offline
    assert fetch(repo, tmp_path).endswith(STEM + ".params") and repo.hits == {}


def test_an_unwritable_cache_is_one_clear_error(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS))
    (tmp_path / "file").write_text("a file where the cache folder should be")
    with pytest.raises(store.ZooError, match="cannot write to the weights cache"):
        fetch(repo, tmp_path / "file" / "models")


FETCH_IN_A_PROCESS = """
import sys
from gluon_tricks.zoo import store
print(store.fetch("tiny_v1", sys.argv[1], sys.argv[2], repo=sys.argv[3]))
"""


def test_two_processes_asking_at_once_download_once(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS), "slow")
    procs = [subprocess.Popen([sys.executable, "-c", FETCH_IN_A_PROCESS, SHA1, str(tmp_path), repo.url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert [o.strip() for o, _ in outs] == [str(tmp_path / (STEM + ".params"))] * 2
    assert repo.hits == {"/gluon/models/%s.zip" % STEM: 1}


def test_a_lock_left_by_a_killed_process_does_not_block(repo, tmp_path):
    repo.publish(STEM, _zip(STEM + ".params", PARAMS))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        "f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)"),
        str(tmp_path / (STEM + ".lock"))], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    tic = time.time()
    assert open(fetch(repo, tmp_path), "rb").read() == PARAMS and time.time() - tic < 10


def test_the_mirror_comes_from_mxnet_gluon_repo(monkeypatch):
    monkeypatch.setenv("MXNET_GLUON_REPO", "http://mirror.example/repo")
    assert store.repo_url() == "http://mirror.example/repo/"
    monkeypatch.delenv("MXNET_GLUON_REPO")
    assert store.repo_url() == store.GLUONCV_REPO
