"""Training targets and losses. Every trick produces dense (soft) targets, so one loss covers them all."""
import mxnet as mx
from mxnet import gluon
from ..errors import BadInput


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


class DistillationLoss(gluon.loss.Loss):
    """Hinton et al. 2015 as in the Bag-of-Tricks paper (section 5.4):

    hard_weight * CE(z_s, target) + (1 - hard_weight) * T^2 * CE(z_s / T, softmax(z_t / T)).

    T^2 keeps the soft term's gradient scale independent of T. ``target`` may be smoothed or mixed.
    """

    def __init__(self, temperature=1.0, hard_weight=0.5, **kwargs):
        super().__init__(weight=None, batch_axis=0, **kwargs)
        if temperature <= 0 or not 0 <= hard_weight <= 1:
            raise BadInput("distillation needs temperature > 0 and 0 <= hard_weight <= 1")
        self._t = temperature
        self._hard = hard_weight

    def hybrid_forward(self, F, student, target, teacher):
        hard = -F.sum(target * F.log_softmax(student, axis=-1), axis=-1)
        soft_target = F.softmax(teacher / self._t, axis=-1)
        soft = -F.sum(soft_target * F.log_softmax(student / self._t, axis=-1), axis=-1)
        return self._hard * hard + (1 - self._hard) * self._t ** 2 * soft
