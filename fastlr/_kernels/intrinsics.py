"""LLVM operations numba does not offer, as intrinsics for numba kernels.

Atomics: numba has none. The thread team (:mod:`fastlr._kernels.team`)
needs a few to hand the chunks of each batch to whichever thread is free and
to tell the threads when the next batch may start: a counter (``fetch_add``),
a claim that exactly one thread wins (``claim_next``), a flag
written with release and read with acquire ordering, a spin-loop hint and a
yield. They compile to single instructions (``lock xadd``, plain ``mov``\\s
with ordering constraints, ``pause``) and to a ``sched_yield`` call.

Bit casts: :func:`float_bits` and :func:`bits_float` reinterpret a float64
as an int64 and back, in registers (numba casts values, not bits; a view of
an array would need the array).

Prefetch: the CSR kernels read weights at random columns, which the
hardware prefetcher cannot predict; :func:`prefetch` asks for a weight a row
ahead of its use.

Lane vectors: numba runs LLVM's loop vectorizer only, which vectorizes
an innermost loop. A register-blocked product whose lanes are not the inner
loop's index (the logits and gradients of many models at once, see
:func:`fastlr._kernels.dense.chunk_logistic_many`: per feature, a few rows'
values times the vectors of several models' weights or residuals) needs
vectors held across that loop. :data:`vec4` is LLVM's ``<4 x double>`` as
a numba value (one AVX register; two SSE registers elsewhere), :data:`vec8`
its ``<8 x double>`` (one AVX-512 register, else two or four), with
:func:`vload`, :func:`vstore`, :func:`vsplat` (``vload8``, ``vstore8``,
``vsplat8``), :func:`vadd`, :func:`vmul`, :func:`vfma`, :func:`vabs` and
:func:`vmax`. LLVM's vectorizer keeps to 256-bit registers on x86 CPUs
that prefer them, even with AVX-512; written as vec8, the many-model
products run at twice the multiply-add rate there. Their
rounding is that of float64 sums, products and multiply-adds, fused where
the target has FMA (as ``contract`` allows in every other kernel, whose
scalar ``a += x * y`` compiles to the same fused instruction there: a lane
gives the bits of the scalar code it replaces). The CSR epoch's narrow
layout (:func:`fastlr._kernels.sparse.narrow_dot`) reads a column's eight
weights as two vec4: LLVM's SLP vectorizer does not pack its eight
separate sums. The validation pass (:func:`fastlr._kernels.stats.moment_sums`)
updates three per-column sums a row at a time with vec4: the loop vectorizer
gives up on a loop that writes three arrays it cannot prove apart.

All can be cached on disk like any other kernel: nothing in them depends on
the process (the yield is linked by symbol name). Array arguments are
indexed without bounds checks.
"""

import platform
import sys

from llvmlite import ir
from numba import config as numba_config
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")

#: The operating system's "let another thread run" call.
_YIELD_SYMBOL = "SwitchToThread" if sys.platform == "win32" else "sched_yield"


def _int64_array(arr):
    return isinstance(arr, types.Array) and arr.dtype == types.int64


def _item_pointer(context, builder, arrty, arr, idx):
    ary = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, arrty, ary, [idx])


def _int64_slot(emit, with_value, returns, doc):
    """An intrinsic ``f(arr, idx)`` or ``f(arr, idx, val)`` on element
    ``idx`` of an int64 array: ``emit(builder, pointer, val)`` builds it."""

    def typed(arr):
        if not _int64_array(arr):
            return None
        sig = (types.int64 if returns else types.void)(
            arr, types.intp, *([types.int64] if with_value else []))

        def codegen(context, builder, sig, args):
            idx = context.cast(builder, args[1], sig.args[1], types.intp)
            ptr = _item_pointer(context, builder, sig.args[0], args[0], idx)
            val = (context.cast(builder, args[2], sig.args[2], types.int64)
                   if with_value else None)
            out = emit(builder, ptr, val)
            return out if returns else context.get_dummy_value()

        return sig, codegen

    if with_value:
        def typer(typingctx, arr, idx, val):
            return typed(arr)
    else:
        def typer(typingctx, arr, idx):
            return typed(arr)
    typer.__doc__ = doc
    return intrinsic(typer)


fetch_add = _int64_slot(
    lambda b, ptr, val: b.atomic_rmw("add", ptr, val, "acq_rel"), True, True,
    """``old = arr[idx]; arr[idx] += val; return old``, atomically
    (acquire-release ordering).""")

claim_next = _int64_slot(
    lambda b, ptr, val: b.zext(b.extract_value(b.cmpxchg(
        ptr, val, b.add(val, ir.Constant(ir.IntType(64), 1)), "acq_rel",
        "acquire"), 1), ir.IntType(64)), True, True,
    """1 if ``arr[idx] == val``, which then becomes ``val + 1``, else 0 (and
    ``arr[idx]`` is left alone), atomically (a compare-and-swap): of the
    threads claiming the same ``val``, exactly one gets 1.""")

load_acquire = _int64_slot(
    lambda b, ptr, val: b.load_atomic(ptr, "acquire", 8), False, True,
    """``arr[idx]``, read atomically with acquire ordering: every write made
    before the matching :func:`store_release` is visible afterwards.""")

store_release = _int64_slot(
    lambda b, ptr, val: b.store_atomic(val, ptr, "release", 8), True, False,
    """``arr[idx] = val``, written atomically with release ordering: no
    earlier write may become visible after it.""")


@intrinsic
def cpu_relax(typingctx):
    """The spin-wait hint (x86 ``pause``; nothing elsewhere): lets the
    sibling hyperthread run and saves power while a thread polls a flag."""
    sig = types.void()

    def codegen(context, builder, sig, args):
        if _X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            fn = cgutils.get_or_insert_function(builder.module, fnty,
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def yield_thread(typingctx):
    """Give the core to another runnable thread (``sched_yield``)."""
    sig = types.void()

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _YIELD_SYMBOL)
        builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def cycles(typingctx):
    """The processor's cycle counter (``llvm.readcyclecounter``: the
    time-stamp counter on x86, a constant-rate clock; 0 where the target has
    none). For measuring waits of the thread team, never for results."""
    sig = types.int64()

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty,
                                            "llvm.readcyclecounter")
        return builder.call(fn, [])

    return sig, codegen


@intrinsic
def float_bits(typingctx, x):
    """The IEEE bits of the float64 ``x`` as an int64 (a bit cast, which
    LLVM vectorizes: :func:`fastlr._kernels.scalar.exp_nonpositive` builds
    powers of two from them)."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def bits_float(typingctx, i):
    """The float64 whose IEEE bits are the int64 ``i`` (inverse of
    :func:`float_bits`)."""
    if i != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(i), codegen


def _prefetch(rw, locality, doc):
    """An intrinsic ``f(arr, idx)`` that starts loading the cache line of
    ``arr[idx]`` (1-D array) with LLVM's ``prefetch`` hints ``rw`` and
    ``locality``; no effect on results, never faults."""
    def prefetch_line(typingctx, arr, idx):
        if not (isinstance(arr, types.Array) and arr.ndim == 1
                and isinstance(idx, types.Integer)):
            return None
        sig = types.void(arr, idx)

        def codegen(context, builder, sig, args):
            idx = context.cast(builder, args[1], sig.args[1], types.intp)
            ptr = _item_pointer(context, builder, sig.args[0], args[0], idx)
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty,
                                                "llvm.prefetch.p0i8")
            # cache type 1: data
            builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, rw),
                              ir.Constant(i32, locality), ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return sig, codegen

    prefetch_line.__doc__ = doc
    return intrinsic(prefetch_line)


#: Bytes in a cache line (x86-64 and most ARM cores).
LINE = 64


@intrinsic
def line_items(typingctx, arr):
    """How many elements of the array ``arr`` fill a cache line (at least 1),
    as a compile-time constant: the step of a loop that asks for every line
    of a short run of elements. ``arr.itemsize`` is read from the array at
    run time, and a loop whose step is not a constant divides to count its
    trips: asking for a CSR row's entries (a few lines) with ``64 //
    data.itemsize`` as the step, the lean team's two-thread epoch at rcv1's
    shape was no faster than without asking; with this, 0.93-0.94x. The
    dense rows' loops (:func:`fastlr._kernels.predict.ask_row`, the
    statistics' ``prefetch_ahead``) keep the run-time step: with this one
    the dense epoch took 1.02-1.07x as long and the statistics pass 1.8x
    (their unrolled requests went out in one burst)."""
    if not isinstance(arr, types.Array):
        return None
    value = max(1, LINE // max(1, arr.dtype.bitwidth // 8))
    sig = types.intp(arr)

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, value)

    return sig, codegen


prefetch = _prefetch(1, 3, """Start loading the cache line of ``arr[idx]`` (1-D
    array, for writing, into all cache levels); no effect on results, never
    faults.""")

prefetch_l2 = _prefetch(0, 2, """:func:`prefetch` into L2 and beyond, not L1 (x86
    ``prefetcht1``): the core tracks many more such requests at once than
    loads into L1 (its L2 queue, not its L1 fill buffers). Asking for the
    next row's 60 table lines of 16 models on 1M columns this way made the
    CSR table epoch's logits pass 1.3-1.75x faster than :func:`prefetch`
    (cycle counters, four pairs of alternating processes).""")


class Lanes(types.Type):
    """Numba type of ``width`` float64 lanes (LLVM ``<width x double>``)."""

    def __init__(self, width):
        self.width = width
        super().__init__(name=f"vec{width}")


vec4 = Lanes(4)
vec8 = Lanes(8)


def _target_has_avx512():
    """Whether numba compiles for a CPU with AVX-512 (its features: the
    host's, or ``NUMBA_CPU_FEATURES``), where a :data:`vec8` is one
    register rather than two."""
    from numba.core.codegen import get_host_cpu_features

    features = numba_config.CPU_FEATURES
    if features is None:
        features = get_host_cpu_features()
    return "+avx512f" in features.split(",")


#: :data:`vec8` is one register on the compile target (AVX-512; two AVX
#: registers elsewhere). A cached kernel that reads it stays right: numba
#: keys its cache by the target CPU's name and features.
VEC8_IN_ONE_REGISTER = _X86 and _target_has_avx512()


def _vector(width):
    return ir.VectorType(ir.DoubleType(), width)


@register_model(Lanes)
class _LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _vector(fe_type.width))


def _lanes_typed(arr, idx, dtypes=(types.float64,)):
    """Whether ``arr[idx]`` starts a run of lanes: an array of one of
    ``dtypes`` indexed by an integer (1-D) or a tuple of ``arr.ndim``
    integers."""
    if not (isinstance(arr, types.Array) and arr.dtype in dtypes):
        return False
    if isinstance(idx, types.Integer):
        return arr.ndim == 1
    return (isinstance(idx, types.BaseTuple) and len(idx) == arr.ndim
            and all(isinstance(t, types.Integer) for t in idx.types))


def _lanes_pointer(context, builder, sig, args, width):
    arrty, idxty = sig.args[0], sig.args[1]
    if isinstance(idxty, types.Integer):
        idx = [context.cast(builder, args[1], idxty, types.intp)]
    else:
        idx = [context.cast(builder, v, t, types.intp) for v, t in
               zip(cgutils.unpack_tuple(builder, args[1], len(idxty)), idxty.types,
                   strict=True)]
    ary = context.make_array(arrty)(context, builder, args[0])
    ptr = cgutils.get_item_pointer(context, builder, arrty, ary, idx)
    lanes = ir.VectorType(context.get_value_type(arrty.dtype), width)
    return builder.bitcast(ptr, lanes.as_pointer())


def _lanes_io(vt, docs):
    """:func:`vload`, :func:`vstore` and :func:`vsplat` for the lanes type
    ``vt``, documented by ``docs``."""
    width = vt.width
    vec = _vector(width)

    def load(typingctx, arr, idx):
        if not _lanes_typed(arr, idx, (types.float64, types.float32)):
            return None
        sig = vt(arr, idx)

        def codegen(context, builder, sig, args):
            size = context.get_abi_sizeof(context.get_value_type(sig.args[0].dtype))
            v = builder.load(_lanes_pointer(context, builder, sig, args, width),
                             align=size)
            return v if v.type == vec else builder.fpext(v, vec)

        return sig, codegen

    def store(typingctx, arr, idx, v):
        if not (_lanes_typed(arr, idx) and v == vt):
            return None
        sig = types.void(arr, idx, vt)

        def codegen(context, builder, sig, args):
            builder.store(args[2], _lanes_pointer(context, builder, sig, args, width),
                          align=8)
            return context.get_dummy_value()

        return sig, codegen

    def splat(typingctx, x):
        if not isinstance(x, (types.Float, types.Integer)):
            return None
        sig = vt(x)

        def codegen(context, builder, sig, args):
            x = context.cast(builder, args[0], sig.args[0], types.float64)
            i32 = ir.IntType(32)
            v = builder.insert_element(ir.Constant(vec, ir.Undefined), x,
                                       ir.Constant(i32, 0))
            return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, width),
                                                            [0] * width))

        return sig, codegen

    for typer, doc in zip((load, store, splat), docs, strict=True):
        typer.__doc__ = doc
    return intrinsic(load), intrinsic(store), intrinsic(splat)


vload, vstore, vsplat = _lanes_io(vec4, (
    """``arr[idx]`` and the three elements after it in memory, as a
    :data:`vec4`: float64 or float32 ``arr`` (float32 widened exactly, as
    ``np.float64(x)``) indexed by an integer (1-D) or a tuple of integers,
    one per axis (``vload(T, (j, 4))`` is ``T[j, 4:8]``; the four must be
    adjacent in memory, as in a C-contiguous row).""",
    """Store the four lanes of ``v`` where :func:`vload` ``(arr, idx)``
    reads them.""",
    """A :data:`vec4` with ``x`` (converted to float64) in every lane."""))
vload8, vstore8, vsplat8 = _lanes_io(vec8, (
    """:func:`vload` of eight lanes, a :data:`vec8`.""",
    """:func:`vstore` of eight lanes.""",
    """:func:`vsplat` of eight lanes."""))


def _lanes_op(arity, emit, doc):
    """An intrinsic of ``arity`` arguments of one lanes type (:data:`vec4`
    or :data:`vec8`) returning that type: ``emit(builder, *args)`` builds
    it."""

    def typed(*args):
        if not isinstance(args[0], Lanes) or any(a != args[0] for a in args):
            return None
        sig = args[0](*args)

        def codegen(context, builder, sig, args):
            return emit(builder, *args)

        return sig, codegen

    if arity == 1:
        def typer(typingctx, a):
            return typed(a)
    elif arity == 2:
        def typer(typingctx, a, b):
            return typed(a, b)
    else:
        def typer(typingctx, a, b, c):
            return typed(a, b, c)
    typer.__doc__ = doc
    return intrinsic(typer)


def _llvm_call(builder, name, *args):
    """A call of the LLVM intrinsic ``llvm.<name>.v<width>f64`` on lanes
    arguments."""
    vec = args[0].type
    name = f"llvm.{name}.v{vec.count}f64"
    fnty = ir.FunctionType(vec, [vec] * len(args))
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name),
                        list(args))


vfma = _lanes_op(3, lambda b, x, y, z: _llvm_call(b, "fmuladd", x, y, z),
                 """``a * b + c`` lane by lane (``llvm.fmuladd``: fused where the
                 target has FMA).""")

vmul = _lanes_op(2, lambda b, x, y: b.fmul(x, y),
                 """``a * b`` lane by lane (four float64 products, rounded each).""")

vadd = _lanes_op(2, lambda b, x, y: b.fadd(x, y), """``a + b`` lane by lane.""")

vabs = _lanes_op(1, lambda b, x: _llvm_call(b, "fabs", x),
                 """``|a|`` lane by lane.""")

vmax = _lanes_op(2, lambda b, x, y: _llvm_call(b, "maxnum", x, y),
                 """The larger of ``a`` and ``b`` lane by lane (``llvm.maxnum``):
                 a NaN in one leaves the other, as ``np.fmax``. Written as a
                 compare and a select instead, ``a[j] = vmax(a[j], b)``
                 compiled to a masked store of the lanes where ``b`` is
                 larger (``vmaskmovpd``, slow on AMD cores): the validation
                 pass (:func:`fastlr._kernels.stats.moment_sums`) took 0.88
                 ns per element of X in cache against 0.55 with this, and on
                 1M x 100 float64 (two threads, both versions alternating in
                 one process) 1.08 and 1.11 floors against 0.85 and 0.80
                 (Zen 3).""")

vgreater = _lanes_op(2, lambda b, x, y: b.select(b.fcmp_ordered(">", x, y), x, y),
                     """``a`` where ``a > b``, else ``b``, lane by lane: one
                     ``maxpd``, where :func:`vmax` costs two more
                     instructions for its NaN rule (a NaN in ``b`` is
                     kept).""")


# --------------------------------------------------------------------------
# numba's debugging mode

def _python_twins():
    """What each intrinsic above does, in Python on NumPy values, for
    ``NUMBA_DISABLE_JIT=1`` (numba's debugging mode: every kernel runs as
    the Python function it is written as, so that it can be stepped
    through, and an intrinsic cannot run there). Lanes are float64 arrays;
    the atomics hold a lock (a team's threads run kernels one bytecode at
    a time, but a read-modify-write spans several); the prefetches and the
    spin-loop hint do nothing. Sums are rounded as Python rounds them, not
    fused: results agree with the compiled kernels' to rounding."""
    import threading
    import time

    import numpy as np

    lock = threading.Lock()

    def fetch_add(arr, idx, val):
        with lock:
            old = int(arr[idx])
            arr[idx] = old + val
            return old

    def claim_next(arr, idx, val):
        with lock:
            if arr[idx] != val:
                return 0
            arr[idx] = val + 1
            return 1

    def load_acquire(arr, idx):
        return int(arr[idx])

    def store_release(arr, idx, val):
        arr[idx] = val

    def flat(arr, idx):
        if isinstance(idx, tuple):
            idx = int(np.ravel_multi_index(idx, arr.shape))
        return arr.reshape(-1), idx

    def lanes_io(width):
        def load(arr, idx):
            a, i = flat(arr, idx)
            return a[i:i + width].astype(np.float64)

        def store(arr, idx, v):
            a, i = flat(arr, idx)
            a[i:i + width] = v

        def splat(x):
            return np.full(width, float(x))

        return load, store, splat

    def nothing(*args):
        return None

    def float_bits(x):
        return int(np.float64(x).view(np.int64))

    def bits_float(i):
        # as the compiled cast: the low 64 bits, two's complement
        return float(np.uint64(int(i) & 0xFFFFFFFFFFFFFFFF).view(np.float64))

    twins = dict(fetch_add=fetch_add, claim_next=claim_next,
                 load_acquire=load_acquire, store_release=store_release,
                 cpu_relax=nothing, yield_thread=lambda: time.sleep(0),
                 cycles=time.perf_counter_ns, prefetch=nothing, prefetch_l2=nothing,
                 line_items=lambda arr: max(1, LINE // arr.itemsize),
                 float_bits=float_bits, bits_float=bits_float,
                 vfma=lambda a, b, c: a * b + c, vmul=lambda a, b: a * b,
                 vadd=lambda a, b: a + b, vabs=np.abs,
                 vmax=np.fmax,
                 vgreater=lambda a, b: np.where(a > b, a, b))
    twins.update(zip(("vload", "vstore", "vsplat"), lanes_io(4), strict=True))
    twins.update(zip(("vload8", "vstore8", "vsplat8"), lanes_io(8), strict=True))
    return twins


if numba_config.DISABLE_JIT:
    globals().update(_python_twins())
