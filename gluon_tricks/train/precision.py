"""Reduced precision: loss scaling for float16 (dynamic or static)."""


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
            raise ValueError("loss scale must be positive, got %g" % init_scale)
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


class PrecisionUnsupported(ValueError):
    """The requested dtype cannot run on these devices; the message says why and what to use."""


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


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
