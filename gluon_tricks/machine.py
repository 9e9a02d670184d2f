"""What this machine is: the CPU, its instruction-set flags and the threads MXNet uses.

Every benchmark figure and every run log carries it, because what is fast differs between CPUs
(bfloat16 is 1.7x float32 on one, 0.8x on another until its AMX tiles are asked for, and fails on a third)."""
import os
import platform
import time

_IMPORTED = time.time()

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
AMX_ISA = "AVX512_CORE_AMX"
ISA_VARIABLE = "DNNL_MAX_CPU_ISA"
ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA, SYS_ARCH_PRCTL = 0x1023, 18, 158  # Linux x86-64
AMX = False  # set by enable_amx(): whether this process's oneDNN may use AMX tiles


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags (empty where /proc/cpuinfo is not readable)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model(cpuinfo="/proc/cpuinfo"):
    try:
        with open(cpuinfo) as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                        platform.processor())
    except OSError:
        return platform.processor()


def _ask_for_tiles():
    """Asks Linux for the AMX tile-data permission (needed since kernel 5.16, granted per process and
    lost across exec); True when granted."""
    import ctypes
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return False
    return syscall(ctypes.c_long(SYS_ARCH_PRCTL), ctypes.c_long(ARCH_REQ_XCOMP_PERM),
                   ctypes.c_long(XFEATURE_XTILEDATA)) == 0


def enable_amx(flags=None, environ=os.environ, ask=_ask_for_tiles):
    """Lets MXNet 1.9.1's oneDNN (v2.4, where AMX is opt-in) run bfloat16 and int8 on AMX tiles:
    measured on a 2-core Xeon, bfloat16 GEMM goes from 0.63x to 4.2x float32's and the fast
    recipe's training step from 0.81x to 1.58x. Asks the kernel for the tiles, caps oneDNN's ISA at
    AVX512_CORE_AMX for one tiny operator (oneDNN reads the cap once, at its first primitive), then
    removes the variable again: a child process inherits the variable but not the permission and
    would die on the first tile instruction. A DNNL_MAX_CPU_ISA the user set is left alone. Call it
    before MXNet's first operator; returns whether AMX is on."""
    global AMX
    flags = cpu_flags() if flags is None else flags
    mine = environ.get(ISA_VARIABLE) in (None, AMX_ISA)
    if not (mine and "amx_tile" in flags and platform.machine() == "x86_64" and ask()):
        return False
    user_set = ISA_VARIABLE in environ
    environ[ISA_VARIABLE] = AMX_ISA
    try:
        import mxnet as mx
        one = mx.nd.ones((1, 1, 1, 1))
        mx.nd.Convolution(one, one, kernel=(1, 1), num_filter=1, no_bias=True).wait_to_read()
    finally:
        if not user_set:
            del environ[ISA_VARIABLE]
    AMX = True
    return True


def machine_info():
    """The facts a figure needs beside it: CPU model, cores, MXNet, threads, bf16/AVX-512 flags."""
    import mxnet as mx
    flags = cpu_flags()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "mxnet": mx.__version__,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "cpu_bf16": sorted(flags & set(BF16_CPU_FLAGS)), "avx512f": "avx512f" in flags, "amx": AMX}


def process_started():
    """Unix time at which this process started (from /proc: the interpreter's own start-up and
    imports count), or when this module was imported where /proc is missing. Time-to-accuracy is
    wall time from here."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime since boot
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


def gemm_gflops(n=1024, repeats=10, dtype="float32"):
    """MXNet's oneDNN GEMM throughput in ``dtype`` on this process's threads (FullyConnected n^3,
    inputs cast beforehand so the figure is the kernel's, not the casts'): the peak a model's
    convolutions are read against, and the probe that says whether bfloat16 pays here."""
    import mxnet as mx
    a, w = mx.nd.random.uniform(shape=(n, n)), mx.nd.random.uniform(shape=(n, n))
    if dtype == "bfloat16":
        from mxnet.contrib import amp
        a, w = (mx.nd.amp_cast(t, dtype=amp.amp.bfloat16) for t in (a, w))
    mx.nd.FullyConnected(a, w, no_bias=True, num_hidden=n).wait_to_read()
    tic = time.perf_counter()
    for _ in range(repeats):
        out = mx.nd.FullyConnected(a, w, no_bias=True, num_hidden=n)
    out.wait_to_read()
    return 2 * n ** 3 * repeats / (time.perf_counter() - tic) / 1e9
