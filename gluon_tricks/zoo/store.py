"""Fetching published weights into a cache: verified by their full sha1, written atomically,
downloaded once across processes, retried on transient faults, never hanging, and never touching
the network when told to stay offline.

The layout is GluonCV's: ``{repo}gluon/models/{name}-{sha1[:8]}.zip`` holding
``{name}-{sha1[:8]}.params``, cached as that ``.params`` file, so GluonCV's mirrors and caches
work unchanged. The sha1 is the ``.params`` file's (GluonCV's tables list that one)."""
import fcntl
import hashlib
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
import zipfile
from ..errors import RUN_FAILED, BadInput

GLUONCV_REPO = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"
OFFLINE_ENV = "GLUON_TRICKS_OFFLINE"


class ZooError(BadInput):
    """Weights cannot be had; the message says why and what to do."""


class ChecksumError(ZooError):
    """A file's sha1 is not the published one (the bad file is removed)."""
    status = RUN_FAILED


def repo_url():
    """The mirror: $MXNET_GLUON_REPO (any GluonCV mirror), else GluonCV's public repository."""
    url = os.environ.get("MXNET_GLUON_REPO", GLUONCV_REPO)
    return url if url.endswith("/") else url + "/"


def offline():
    return os.environ.get(OFFLINE_ENV, "").lower() not in ("", "0", "false", "no")


def sha1_of(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_name(name, sha1):
    return "%s-%s" % (name, sha1[:8])


def matches(actual, expected):
    """The full sha1, or its first digits where only those are published (GluonCV's older tags)."""
    return actual == expected if len(expected) == 40 else actual.startswith(expected)


def fetch(name, sha1, root, repo=None, timeout=30.0, retries=3, backoff=1.0, progress=None):
    """The cached ``{root}/{name}-{sha1[:8]}.params``, downloaded and verified when it is missing
    or wrong (``sha1``: 40 hex digits, or fewer where only those are published). Concurrent callers (dist workers, Horovod ranks) download once: the others wait on
    a lock that the kernel releases if its holder dies."""
    stem = file_name(name, sha1)
    path = os.path.join(root, stem + ".params")
    if _valid(path, sha1):
        return path
    url = "%sgluon/models/%s.zip" % (repo or repo_url(), stem)
    if offline():
        raise ZooError("%s=1: not downloading %s; put %s (sha1 %s) in %s, or unset %s"
                       % (OFFLINE_ENV, url, stem + ".params", sha1, root, OFFLINE_ENV))
    try:
        os.makedirs(root, exist_ok=True)
        lock = open(os.path.join(root, stem + ".lock"), "a")
    except OSError as err:
        raise ZooError("cannot write to the weights cache %s (%s); set MXNET_HOME or pass root=" % (root, err)) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel when the holder exits or dies
        if _valid(path, sha1):  # another process finished it while we waited
            return path
        archive = "%s.zip.part-%d" % (os.path.join(root, stem), os.getpid())
        try:
            _download(url, archive, timeout, retries, backoff, progress)
            _extract(archive, stem + ".params", path, sha1, url)
        except OSError as err:
            raise ZooError("cannot write to the weights cache %s (%s); set MXNET_HOME or pass root=" % (root, err)) from None
        finally:
            if os.path.exists(archive):
                os.remove(archive)
    return path


def _valid(path, sha1):
    if not os.path.isfile(path):
        return False
    if matches(sha1_of(path), sha1):
        return True
    os.remove(path)  # a wrong or partial file is never used, and is fetched again
    return False


class _Transient(Exception):
    """A fault worth another try: connection trouble, a timeout, a 5xx, a short body."""


def _download(url, path, timeout, retries, backoff, progress):
    for attempt in range(retries + 1):
        try:
            return _download_once(url, path, timeout, progress)
        except _Transient as err:
            if attempt == retries:
                raise ZooError("downloading %s failed %d times, last: %s; set MXNET_GLUON_REPO to a mirror, or put "
                               "the file in the cache by hand" % (url, retries + 1, err)) from None
            time.sleep(backoff * 2 ** attempt)


def _download_once(url, path, timeout, progress):
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code >= 500:
            raise _Transient("HTTP %d" % err.code) from None
        raise ZooError("%s: HTTP %d %s; set MXNET_GLUON_REPO to a mirror that has it, or put the file in the "
                       "cache by hand" % (url, err.code, err.reason)) from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, socket.gaierror):  # no such host: retrying will not help
            raise ZooError("%s: cannot resolve the host (%s); without network set %s=1 and fill the cache by hand, "
                           "or set MXNET_GLUON_REPO to a reachable mirror" % (url, err.reason, OFFLINE_ENV)) from None
        raise _Transient(str(err.reason)) from None
    except (socket.timeout, ConnectionError) as err:
        raise _Transient(repr(err)) from None
    with response:
        size = int(response.headers.get("Content-Length") or 0)
        got = 0
        bar = progress(total=size or None, desc=os.path.basename(url)) if progress else None
        try:
            with open(path, "wb") as f:
                while True:
                    try:
                        chunk = response.read(1 << 16)
                    except (socket.timeout, ConnectionError, OSError) as err:
                        raise _Transient("reading failed after %d bytes (%r)" % (got, err)) from None
                    if not chunk:
                        break
                    f.write(chunk)
                    got += len(chunk)
                    if bar:
                        bar.update(len(chunk))
        finally:
            if bar:
                bar.close()
    if size and got != size:
        raise _Transient("short body: %d of %d bytes" % (got, size))


def _extract(archive, member, path, sha1, url):
    """The ``.params`` member of ``archive`` into ``path``, only if its sha1 is the published one."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            if member not in names:
                raise ZooError("%s holds no %s (it has: %s)" % (url, member, ", ".join(names[:5]) or "nothing"))
            part = path + ".part-%d" % os.getpid()
            with zf.open(member) as src, open(part, "wb") as dst:
                shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile:
        raise ChecksumError("%s is not a zip archive (an error page, or a truncated file?)" % url) from None
    actual = sha1_of(part)
    if not matches(actual, sha1):
        os.remove(part)
        raise ChecksumError("%s from %s has sha1 %s, the published one is %s; the file was removed"
                            % (member, url, actual, sha1))
    os.replace(part, path)
