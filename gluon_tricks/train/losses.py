"""Training targets and losses. Every trick produces dense (soft) targets, so one loss covers them all."""
import mxnet as mx
from mxnet import gluon


def smooth_targets(labels, classes, epsilon):
    """Label smoothing (Szegedy et al. 2016): 1 - eps + eps/K on the true class, eps/K elsewhere."""
    off = epsilon / classes
    return mx.nd.one_hot(labels, classes, on_value=1.0 - epsilon + off, off_value=off)


class SoftTargetLoss(gluon.loss.Loss):
    """Cross-entropy against a probability vector: -sum_k q_k log softmax(z)_k."""

    def __init__(self, **kwargs):
        super().__init__(weight=None, batch_axis=0, **kwargs)

    def hybrid_forward(self, F, logits, target):
        return -F.sum(target * F.log_softmax(logits, axis=-1), axis=-1)
