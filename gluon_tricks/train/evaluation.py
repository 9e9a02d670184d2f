"""Measuring a network: accuracy (with flip test-time augmentation) and BN statistics
re-estimated on training data. Used during training and by evaluate/serving alike."""
import time

import mxnet as mx
from mxnet import autograd, gluon

from . import parallel


def evaluate(net, loader, ctxs, tta_flip=False, tta_shift=0):
    """(top-1 accuracy, mean cross-entropy) over a loader; one host sync at the end."""
    report = accuracy_report(net, loader, ctxs, tta_flip, tta_shift=tta_shift)
    return report["top1"], report["loss"]


def shifted(x, dy, dx):
    """NCHW images moved ``dy`` rows down and ``dx`` columns right, the edge pixels repeated."""
    p = max(abs(dy), abs(dx))
    if not p:
        return x
    h, w = x.shape[2:]
    padded = mx.nd.pad(x, mode="edge", pad_width=(0, 0, 0, 0, p, p, p, p))
    return padded[:, :, p - dy:p - dy + h, p - dx:p - dx + w]


def test_views(tta_flip=False, tta_shift=0):
    """The (flip, dy, dx) views test-time augmentation averages: the image, its mirror image, and
    each moved by ``tta_shift`` pixels up, down, left and right (the translations a pad-crop
    trained on), so 1, 2, 5 or 10 forward passes per image."""
    moves = [(0, 0)] + ([(tta_shift, 0), (-tta_shift, 0), (0, tta_shift), (0, -tta_shift)] if tta_shift else [])
    return [(flip, dy, dx) for flip in ((False, True) if tta_flip else (False,)) for dy, dx in moves]


def accuracy_report(net, loader, ctxs, tta_flip=False, topk=5, tta_shift=0):
    """Top-1 and top-``topk`` accuracy, mean cross-entropy, image count and img/s over a loader.

    ``tta_flip`` / ``tta_shift`` average the softmax over :func:`test_views`, and ``top1_one_view``
    is then the top-1 of the image alone. The host waits once, at the end (the timing includes the
    loader's work)."""
    if not isinstance(ctxs, (list, tuple)):
        ctxs = [ctxs]
    dtype = net_dtype(net)
    views = test_views(tta_flip, tta_shift)
    correct, one_view, in_top, loss_sum, n = [], [], [], [], 0
    tic = time.time()
    for x, y in loader.epoch():
        for xi, yi in zip(parallel.split(x, ctxs), parallel.split(y, ctxs)):
            xi = xi.astype(dtype, copy=False)
            probs = [mx.nd.softmax(net(shifted(xi.flip(axis=3) if flip else xi, dy, dx)).astype("float32"))
                     for flip, dy, dx in views]
            prob = sum(probs) / len(views)
            correct.append((prob.argmax(axis=1) == yi).sum())
            one_view.append((probs[0].argmax(axis=1) == yi).sum())
            k = min(topk, prob.shape[1])
            in_top.append((mx.nd.topk(prob, k=k, ret_typ="indices") == yi.reshape((-1, 1))).sum())
            loss_sum.append(-mx.nd.log(mx.nd.pick(prob, yi) + 1e-12).sum())
        n += len(y)
    total = lambda parts: sum(float(p.asscalar()) for p in parts)  # noqa: E731
    top1, top5, loss = total(correct) / n, total(in_top) / n, total(loss_sum) / n
    seconds = time.time() - tic
    report = {"top1": top1, "top%d" % topk: top5, "loss": loss, "images": n, "seconds": seconds,
              "img_per_s": n / max(seconds, 1e-9)}
    if len(views) > 1:  # what the same network scores without test-time augmentation, at no extra pass
        report["top1_one_view"] = total(one_view) / n
    return report


def recompute_bn_stats(net, loader, batches, ctxs, epoch_seed=10 ** 6):
    """Replace BN running statistics by their average over ``batches`` training batches.

    fb.resnet.torch found that statistics recomputed on training data after training improve
    top-1; a cumulative average (momentum k/(k+1) at batch k) weighs every batch equally.

    MXNet 1.9.1 updates BN's running statistics in the *backward* pass, not the forward (a
    forward in training mode alone changes nothing), so each batch goes forward and backward,
    with the gradient taken for the input only: the weights' gradients are left alone."""
    bns = [b for b in blocks(net) if isinstance(b, (gluon.nn.BatchNorm, gluon.nn.BatchNormReLU))
           and not b._kwargs.get("use_global_stats")]
    saved = [b._kwargs["momentum"] for b in bns]
    params = list(net.collect_params().values())
    grad_reqs = [p.grad_req for p in params]
    net.hybridize(active=False)  # momentum is read per call only when imperative
    dtype = net_dtype(net)
    try:
        for p in params:
            p.grad_req = "null"
        for k, (x, _) in enumerate(loader.epoch(epoch_seed)):
            if k >= batches:
                break
            for b in bns:
                b._kwargs["momentum"] = k / (k + 1.0)
            for xi in parallel.split(x, ctxs):
                xi = xi.astype(dtype)
                xi.attach_grad()
                with autograd.record():
                    out = net(xi)
                out.backward()
            mx.nd.waitall()  # momentum changes for the next batch: this one must be done
    finally:
        for b, m in zip(bns, saved):
            b._kwargs["momentum"] = m
        for p, req in zip(params, grad_reqs):
            p.grad_req = req
        net.hybridize(static_alloc=True, static_shape=True)
    mx.nd.waitall()


def blocks(block):
    """``block`` and all blocks inside it."""
    yield block
    for child in block._children.values():
        yield from blocks(child)


def net_dtype(net):
    """The dtype the network's inputs must have (BN parameters stay float32 under float16)."""
    for p in net.collect_params().values():
        if not p.name.endswith(("gamma", "beta", "running_mean", "running_var")):
            return p.dtype
    return "float32"
