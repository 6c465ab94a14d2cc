"""LLVM operations numba does not offer, as intrinsics for numba kernels.

Atomics: numba has none. The thread team (:mod:`fastlr._kernels.team`)
needs a few to hand the chunks of each batch to whichever thread is free and
to tell the threads when the next batch may start: a counter (``fetch_add``), a flag
written with release and read with acquire ordering, a spin-loop hint and a
yield. They compile to single instructions (``lock xadd``, plain ``mov``\\s
with ordering constraints, ``pause``) and to a ``sched_yield`` call.

Prefetch: the CSR kernels read weights at random columns, which the
hardware prefetcher cannot predict; :func:`prefetch` asks for a weight a row
ahead of its use.

All can be cached on disk like any other kernel: nothing in them depends on
the process (the yield is linked by symbol name). Array arguments are
indexed without bounds checks.
"""

import platform
import sys

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

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
def prefetch(typingctx, arr, idx):
    """Start loading the cache line of ``arr[idx]`` (1-D array, for writing,
    into all cache levels); no effect on results, never faults."""
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
        # rw = 1 (the weight is written after it is read), locality = 3
        # (keep in all levels), cache type = 1 (data)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1),
                          ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
