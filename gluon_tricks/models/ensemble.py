"""Several trained networks answering as one: the mean of their class probabilities. A distillation
teacher made of several published models is one of these. Where its members err differently (trained from
different seeds, say) it is more accurate than the best of them, and a student learns from a better target."""
import math

from mxnet.gluon import HybridBlock


def scoped_members(make, items):
    """``[make(item) for item in items]``, each built in a name scope of its own: two networks of one
    architecture otherwise carry the same parameter names, and one graph of both fails."""
    members = []
    for i, item in enumerate(items):
        with HybridBlock(prefix="member%d_" % i).name_scope():
            members.append(make(item))
    return members


class Ensemble(HybridBlock):
    """Outputs ``log(mean_i softmax(z_i))``: logits whose softmax is the members' mean probability
    (a softmax at temperature T then gives that mean raised to 1/T, renormalised)."""

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members, got %d" % len(members))
        self._count = len(members)
        for i, member in enumerate(members):
            self.register_child(member, "member%d" % i)

    def hybrid_forward(self, F, x):
        logs = [F.log_softmax(member(x), axis=-1) for member in self._children.values()]
        # log of the mean probability, computed as a log-sum-exp so no probability underflows to log(0)
        stacked = F.stack(*logs, axis=0)
        top = F.max(stacked, axis=0)
        return F.log(F.sum(F.exp(F.broadcast_sub(stacked, F.expand_dims(top, axis=0))), axis=0)) + top \
            - math.log(self._count)
