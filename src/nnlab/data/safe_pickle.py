"""Unpickling data files without running code from them.

A pickle names the callables that rebuild its objects; a plain ``pickle.load`` calls whatever a
file names. :class:`RestrictedUnpickler` resolves only the globals a given file format needs
(the callers pass them) and refuses anything else with a :class:`DataFormatError` naming the
file and the refused global. :data:`NUMPY_ARRAYS` is the set for pickled NumPy arrays.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any, Mapping

import numpy as np

from nnlab.data.errors import DataFormatError

_RECONSTRUCT = np.zeros(1).__reduce__()[0]    # numpy's array reconstructor, found without private imports
_SCALAR = np.float64(0).__reduce__()[0]       # numpy's scalar reconstructor (a float64 held in a pickle)

#: the globals a pickled NumPy array (and NumPy scalar) is rebuilt from, under NumPy 1 and 2 names
NUMPY_ARRAYS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes at protocol 2 as codecs.encode(str, "latin1"): data, not code
    ("_codecs", "encode"): codecs.encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``allowed`` globals; ``holds`` says what the file should hold."""

    def __init__(self, file: Any, source: str, allowed: Mapping[tuple[str, str], Any] = NUMPY_ARRAYS,
                 holds: str = "NumPy arrays and numbers", encoding: str = "bytes") -> None:
        super().__init__(file, encoding=encoding)
        self.source, self.allowed, self.holds = source, allowed, holds

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise DataFormatError(self.source, f"refusing to load {module}.{name}: the file should hold only"
                                               f" {self.holds}") from None


def safe_loads(data: bytes, source: str, what: str = "pickle", **kwargs: Any) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (``kwargs`` go to it).

    A refused global or a truncated or corrupt pickle raise :class:`DataFormatError` naming
    ``source``; ``what`` names the expected content in that message.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data), source, **kwargs).load()
    except DataFormatError:
        raise
    except Exception as exc:  # truncated or corrupt pickles raise many different errors
        raise DataFormatError(source, f"not a readable {what} (truncated or corrupt?): {type(exc).__name__}: {exc}") from None
