"""Reduced precision as one policy: which dtype runs where, how the network is cast, what the
optimizer keeps in float32, and loss scaling. ``fit``, ``benchmark`` and the bench scripts all
take it from here, so a dtype behaves the same in each."""
import json
import os

from .. import machine
from ..machine import BF16_CPU_FLAGS, cpu_flags, cpu_model, gemm_gflops
from ..errors import BadInput


class LossScaler:
    """Multiplies the loss by ``scale`` so small float16 gradients do not flush to zero.

    Dynamic (Micikevicius et al. 2018): a step whose gradients hold inf/nan is skipped and the
    scale halved; after ``growth_interval`` clean steps in a row the scale doubles. Static: the
    scale never changes and an overflowing step is still skipped. Checking for overflow reads
    one flag from the device, a host sync per step, which dynamic scaling cannot avoid.
    """

    def __init__(self, init_scale=2.0 ** 16, dynamic=True, growth_interval=2000, factor=2.0,
                 min_scale=1.0, max_scale=2.0 ** 24):
        if init_scale <= 0:
            raise BadInput("loss scale must be positive, got %g" % init_scale)
        self.scale = float(init_scale)
        self.dynamic = dynamic
        self.growth_interval = growth_interval
        self.factor = factor
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.clean_steps = 0
        self.skipped = 0

    def update(self, overflow):
        """Record one step's outcome; returns True when the step's update should be applied."""
        if overflow:
            self.skipped += 1
            self.clean_steps = 0
            if self.dynamic:
                self.scale = max(self.min_scale, self.scale / self.factor)
            return False
        self.clean_steps += 1
        if self.dynamic and self.clean_steps >= self.growth_interval:
            self.scale = min(self.max_scale, self.scale * self.factor)
            self.clean_steps = 0
        return True

    @staticmethod
    def overflowed(grads):
        """True when any of the gradient arrays holds inf or nan (one host read)."""
        import mxnet as mx
        grads = [g for g in grads if g is not None]
        if not grads:
            return False
        finite = mx.nd.multi_all_finite(*grads, num_arrays=len(grads), init_output=True)
        return not bool(finite.asscalar())

    def state_dict(self):
        return dict(vars(self))

    def load_state_dict(self, state):
        vars(self).update(state)


class PrecisionUnsupported(BadInput):
    """The requested dtype cannot run on these devices; the message says why and what to use."""


def check_dtype(dtype, contexts, flags=None):
    """Stop before any work when ``dtype`` cannot run on ``contexts`` (MXNet 1.9.1 facts)."""
    on_cpu = any(ctx.device_type == "cpu" for ctx in contexts)
    if dtype == "float32":
        return
    if dtype == "float16":
        if on_cpu:
            raise PrecisionUnsupported(
                "--dtype float16 needs a GPU: MXNet 1.9.1 has no float16 GEMM/convolution on CPU "
                "('FP16 gemm on cpu not implemented'). Use --gpus, or --dtype bfloat16 on a CPU with "
                "avx512_bf16 or AMX, or --dtype float32")
        return
    if dtype == "bfloat16":
        if not on_cpu:
            raise PrecisionUnsupported("--dtype bfloat16 runs through oneDNN on CPU only in MXNet 1.9.1; "
                                       "on a GPU use --dtype float16")
        have = (flags if flags is not None else cpu_flags()) & set(BF16_CPU_FLAGS)
        if not have:
            raise PrecisionUnsupported(
                "--dtype bfloat16 needs a CPU with avx512_bf16 or AMX (amx_bf16); this CPU has neither, "
                "and MXNet's oneDNN then refuses bfloat16 convolution ('could not create a primitive "
                "descriptor iterator'). Use --dtype float32")
        return
    raise PrecisionUnsupported("unknown dtype %r; choose float32, float16 or bfloat16" % (dtype,))


PROBE_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "gluon_tricks", "bf16_probe.json")
FASTER = 1.1  # bfloat16 must beat float32 by this much to be chosen: AMP's casts cost something


def bf16_gemm_ratio(n=1024, repeats=10, cache=PROBE_CACHE):
    """bfloat16 GEMM throughput over float32's on this CPU (FullyConnected n x n x n, inputs
    already cast, MXNet's oneDNN), measured once per CPU model, flag set and MXNet version and
    cached: whether bfloat16 pays depends on the CPU and the library (1.94x on a Zen 5 with
    avx512_bf16; on a Xeon with AMX 0.54-0.63x until oneDNN is let use the tiles, 4.2x after)."""
    import mxnet as mx
    key = "%s|%s|%s%s" % (cpu_model(), ",".join(sorted(cpu_flags() & set(BF16_CPU_FLAGS + ("avx512f",)))), mx.__version__,
                          "|amx tiles" if machine.AMX else "")
    try:
        with open(cache) as f:
            known = json.load(f)
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    known[key] = gemm_gflops(n, repeats, "bfloat16") / gemm_gflops(n, repeats, "float32")
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        with open(cache, "w") as f:
            json.dump(known, f, indent=1)
    except OSError:
        pass  # a read-only home: measure again next time
    return known[key]


def choose_dtype(contexts, flags=None, ratio=None):
    """(dtype, why): the fastest precision these devices train correctly in. GPUs: float16; CPUs:
    bfloat16 where the CPU has it natively and it measures faster than float32, else float32."""
    if any(ctx.device_type == "gpu" for ctx in contexts):
        return "float16", "a GPU: float16 with loss scaling and float32 master weights"
    have = (flags if flags is not None else cpu_flags()) & set(BF16_CPU_FLAGS)
    if not have:
        return "float32", "this CPU has no avx512_bf16 or AMX, so MXNet cannot run bfloat16"
    ratio = bf16_gemm_ratio() if ratio is None else ratio
    if ratio >= FASTER:
        return "bfloat16", "bfloat16 GEMM runs %.2fx float32's on this CPU" % ratio
    return "float32", "bfloat16 GEMM runs only %.2fx float32's on this CPU (MXNet 1.9.1's oneDNN)" % ratio


def bf16_advice(contexts, flags=None, ratio=None):
    """A one-line note when bfloat16 was asked for on a CPU where it measures slower, else None."""
    if any(ctx.device_type == "gpu" for ctx in contexts):
        return None
    if not (flags if flags is not None else cpu_flags()) & set(BF16_CPU_FLAGS):
        return None  # check_dtype refuses it outright
    ratio = bf16_gemm_ratio() if ratio is None else ratio
    if ratio >= 1.0:
        return None
    return ("bfloat16 GEMM runs at %.2fx float32's on this CPU (MXNet 1.9.1's oneDNN): --dtype float32 "
            "(or auto) trains faster here" % ratio)


class Precision:
    """float32, float16 (GPU: the net cast to float16 with BN kept in float32, float32 master
    weights in the optimizer, dynamic or static loss scaling) or bfloat16 (CPU: MXNet AMP runs
    convolutions and FC layers in bfloat16; BN, ReLU, pooling and additions take the bfloat16
    activations as they come, with BN's parameters and statistics, softmax, the loss and the
    weights in float32)."""

    _amp_on = False  # AMP patches MXNet's operators for the whole process, once

    def __init__(self, dtype="float32", loss_scale=0.0):
        if dtype not in ("float32", "float16", "bfloat16"):
            raise PrecisionUnsupported("unknown dtype %r; choose float32, float16 or bfloat16" % (dtype,))
        self.dtype, self.loss_scale = dtype, loss_scale

    @classmethod
    def from_recipe(cls, recipe):
        return cls(recipe.dtype, recipe.loss_scale)

    def check(self, contexts, flags=None):
        """Stop before any work when this dtype cannot run on ``contexts``."""
        check_dtype(self.dtype, contexts, flags)
        return self

    def activate(self):
        """Switch MXNet into this precision (bfloat16: AMP's operator lists, process-wide)."""
        if self.dtype == "bfloat16" and not Precision._amp_on:
            from mxnet.contrib import amp
            amp.init(target_dtype="bfloat16")
            Precision._amp_on = True
        return self

    @property
    def input_dtype(self):
        """What the network's inputs are cast to (AMP casts inside the graph for bfloat16)."""
        return "float16" if self.dtype == "float16" else "float32"

    def prepare(self, net, hybridize=True):
        """Cast ``net`` (Gluon's BatchNorm keeps its parameters in float32) and compile it."""
        if self.dtype == "float16":
            net.cast("float16")
        if hybridize:
            net.hybridize(static_alloc=True, static_shape=True)
        return net

    def optimizer_params(self):
        """float32 master weights for float16 updates (small steps vanish in float16)."""
        return {"multi_precision": True} if self.dtype == "float16" else {}

    def scaler(self):
        """The float16 loss scaler (static when ``loss_scale`` > 0), or None."""
        if self.dtype != "float16":
            return None
        return LossScaler(self.loss_scale or 2.0 ** 16, dynamic=not self.loss_scale)
