"""Downloading weights against a real HTTP server on 127.0.0.1 that the test starts and shapes
like GluonCV's repository: good, corrupt, truncated, missing, stalled, failing once, contended."""
import hashlib
import http.server
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from gluon_tricks.zoo import store

PARAMS = os.urandom(50_000)  # stands in for a .params file
SHA1 = hashlib.sha1(PARAMS).hexdigest()
STEM = "tiny_v1-" + SHA1[:8]


def _zip(member, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, data)
    return buf.getvalue()


class Repo(http.server.ThreadingHTTPServer):
    """``files``: URL path -> (bytes, behaviour); ``hits``: URL path -> requests seen."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.hits, self.fail_first = {}, {}, set()
        self.url = "http://127.0.0.1:%d/" % self.server_address[1]

    def publish(self, name, data, behaviour="ok"):
        self.files["/gluon/models/%s.zip" % name] = (data, behaviour)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        repo = self.server
        repo.hits[self.path] = repo.hits.get(self.path, 0) + 1
        if self.path not in repo.files:
            self.send_error(404)
            return
        data, behaviour = repo.files[self.path]
        if behaviour == "500 once" and repo.hits[self.path] == 1:
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data) + (1000 if behaviour == "truncated" else 0)))
        self.end_headers()
        if behaviour == "stall":
            time.sleep(3)  # longer than the client's timeout
        if behaviour == "slow":
            time.sleep(1)  # long enough for a second process to arrive while this one downloads
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def repo():
    server = Repo()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


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
    repo.publish(STEM, _zip(STEM + ".params", PARAMS[:-1] + b"x"))
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


def test_use_pretrained_loads_published_weights_through_the_store(repo, tmp_path, monkeypatch):
    import mxnet as mx
    import numpy as np
    from gluon_tricks import get_model
    from gluon_tricks.inference import Predictor
    from gluon_tricks.zoo import weights
    net = get_model("cifar_resnet20_v1")
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, (2, 3, 32, 32))
    expected = net(x).asnumpy()
    net.save_parameters(str(tmp_path / "w.params"))
    data = (tmp_path / "w.params").read_bytes()
    sha1 = hashlib.sha1(data).hexdigest()
    repo.publish("cifar_resnet20_v1-" + sha1[:8], _zip("cifar_resnet20_v1-%s.params" % sha1[:8], data))
    monkeypatch.setattr(weights, "manifest", lambda: {"cifar_resnet20_v1": {"name": "cifar_resnet20_v1", "sha1": sha1}})
    monkeypatch.setenv("MXNET_GLUON_REPO", repo.url)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "home"))
    predictor = Predictor.from_model("cifar_resnet20_v1", "gluoncv", input_size=32)
    np.testing.assert_allclose(predictor.net(x).asnumpy(), expected, rtol=1e-5, atol=1e-5)
    assert os.path.isfile(tmp_path / "home" / "models" / ("cifar_resnet20_v1-%s.params" % sha1[:8]))
