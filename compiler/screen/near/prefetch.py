"""A software prefetch for the kernels' hash-table probes: `prefetch(array, i)` asks the CPU to bring the
cache line of array[i] in while the kernel works on something else.

The tables the kernels build from a million rows (16-32 MB) miss the cache on nearly every probe, and each
probe's loop waits on its load; asking for row i + 16's slot while probing row i's overlaps those misses
(linking 16 LSH bands of 880k rows: 0.15 s -> 0.09 s). A hint only: it changes no result. Edit with care,
as with `views`: numba's cache does not notice a change here in the kernels that call it.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

AHEAD = 16  # rows ahead: about as many misses as a core keeps in flight


@intrinsic
def prefetch(typingctx, array, index):
    """Prefetch array[index] for reading (llvm.prefetch, keep in all cache levels); index is not checked."""
    signature = types.void(array, index)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0i8",
        )
        # read (0), high temporal locality (3), data cache (1)
        builder.call(
            function,
            [
                builder.bitcast(pointer, byte_pointer),
                ir.Constant(i32, 0),
                ir.Constant(i32, 3),
                ir.Constant(i32, 1),
            ],
        )
        return context.get_dummy_value()

    return signature, codegen
