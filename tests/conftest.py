"""Shared test helpers."""
import http.server
import io
import os
import subprocess
import sys
import threading
import time
import zipfile

import gluon_tricks  # noqa: F401  (first, as in a user's process: MXNet's threads and oneDNN's ISA are set before any operator)
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_CIFAR = os.path.join(ROOT, "scripts", "train_cifar.py")
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
NO_DATA = "Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)"
HAVE_DATA = os.path.isdir(DEBIAN_FASHION_MNIST)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason=NO_DATA)

# The first line of a child process that uses MXNet without gluon_tricks: on numpy 1.24 and later
# MXNet 1.9.1 imports only with the numpy names it reads put back, and nothing else of ours runs.
PLAIN_MXNET = ("import runpy; names = runpy.run_path(%r); names['restore']()\n"
               "import mxnet; names['restore_recordio'](mxnet.recordio)\n" % os.path.join(ROOT, "gluon_tricks", "numpy_names.py"))


def train_cifar(*args, env=None, timeout=600):
    """Run scripts/train_cifar.py in a fresh process; returns the CompletedProcess."""
    return subprocess.run([sys.executable, TRAIN_CIFAR, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


FASHION_CLASSES = {"tshirt": 0, "trouser": 1, "bag": 8, "sneaker": 7}  # folder name -> Fashion-MNIST label


@pytest.fixture(scope="session")
def fashion_jpegs(tmp_path_factory):
    """Real images as an ImageNet-style tree: root/{train,val}/<class>/*.jpg, 4 Fashion-MNIST
    classes, 40x40 RGB JPEGs, 96 train and 24 val images per class, plus packed .rec files."""
    if not HAVE_DATA:
        pytest.skip(NO_DATA)
    from PIL import Image

    from gluon_tricks.data import load_fashion_mnist, pack
    train, test = load_fashion_mnist(download=False)
    root = tmp_path_factory.mktemp("fashion_jpegs")
    for split, data, count in (("train", train, 96), ("val", test, 24)):
        for name, label in FASHION_CLASSES.items():
            os.makedirs(root / split / name)
            for i, k in enumerate(np.flatnonzero(data.labels == label)[:count]):
                img = Image.fromarray(data.images[k, :, :, 0]).convert("RGB").resize((40, 40), Image.BILINEAR)
                img.save(root / split / name / ("%03d.jpg" % i), quality=90)
        pack(str(root / split), str(root / split) + "_rec", workers=1, progress=False)
    return root


def zip_of(member, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, data)
    return buf.getvalue()


class Repo(http.server.ThreadingHTTPServer):
    """A weights repository in GluonCV's layout on 127.0.0.1 (never the internet). ``files``: URL path -> (bytes, behaviour); ``hits``: URL path -> requests seen."""
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
