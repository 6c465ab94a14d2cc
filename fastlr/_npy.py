"""The header of ``.npy`` data read from an untrusted stream, in bounded memory.

numpy's own reader takes the header length from the file and reads that
many bytes before it checks the length (a version 2.0 header may claim 4 GB),
then allocates the array its header describes before reading any data. Model
files (:mod:`fastlr.persist`) and data files (:mod:`fastlr.io`) read the
header here first, check the shape and dtype against what they expect and
against the bytes really there, and only then read the data.
"""

import io
import math
import struct
import tokenize

import numpy as np

__all__ = ["MAX_HEADER", "nbytes", "read_header"]

#: numpy's own limit for a header it parses without ``allow_pickle``.
MAX_HEADER = 10_000

_MAGIC = b"\x93NUMPY"


def _read_exact(stream, n, fail):
    data = stream.read(n)
    if len(data) != n:
        fail("is truncated")
    return data


def read_header(stream, fail):
    """``(shape, fortran_order, dtype, header_size)`` of the .npy data at the
    stream's position, which is left at the start of the data.

    At most ``12 + MAX_HEADER`` bytes are read. ``fail(words)`` must raise;
    it is called with ``"is not .npy data"``, ``"is truncated"``, ... for a
    header that is not one fastlr reads (versions 1.0 and 2.0, which numpy
    writes for plain arrays), or that describes Python objects, a structured
    dtype or a negative dimension.
    """
    magic = _read_exact(stream, 8, fail)
    if magic[:6] != _MAGIC:
        fail("is not .npy data")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0)):
        fail(f"has .npy format version {version[0]}.{version[1]}; fastlr reads "
             "1.0 and 2.0")
    length_format = "<H" if version == (1, 0) else "<I"
    length_bytes = _read_exact(stream, struct.calcsize(length_format), fail)
    length = struct.unpack(length_format, length_bytes)[0]
    if length > MAX_HEADER:
        fail(f"has a .npy header of {length:,} bytes (at most {MAX_HEADER:,})")
    text = _read_exact(stream, length, fail)
    buffer = io.BytesIO(magic + length_bytes + text)
    np.lib.format.read_magic(buffer)
    parse = (np.lib.format.read_array_header_1_0 if version == (1, 0)
             else np.lib.format.read_array_header_2_0)
    try:
        shape, fortran, dtype = parse(buffer)
    except (ValueError, SyntaxError, tokenize.TokenError) as exc:
        # numpy tokenizes the header's text: an unbalanced bracket ends it
        # inside a statement
        fail(f"has an unreadable .npy header ({type(exc).__name__}: {exc})")
    if dtype.hasobject:
        fail("holds Python objects (pickled data), which fastlr never unpickles")
    if dtype.names is not None or dtype.subdtype is not None or dtype.itemsize == 0:
        fail(f"has unsupported dtype {dtype}")
    if any(isinstance(d, bool) for d in shape):
        fail(f"has a dimension that is not a number in shape {shape}")
    if any(d < 0 for d in shape):
        fail(f"has a negative dimension in shape {shape}")
    if any(d >= 2**63 for d in shape):
        fail(f"has a dimension beyond int64 in shape {shape}")
    return shape, fortran, dtype, 8 + len(length_bytes) + length


def nbytes(shape, dtype):
    """Bytes of the data an array of ``shape`` and ``dtype`` holds."""
    return math.prod(shape) * dtype.itemsize
