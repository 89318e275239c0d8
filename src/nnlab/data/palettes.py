"""Colour palettes for colourization: the CSC321 assignment's k-means colours.

The CSC321 (Toronto, 2018) colourization assignment, which seed 001 follows, ships the k-means
centres of the CIFAR-10 horse training pixels as ``colour_kmeans{K}_cat7.npy`` (K = 16, 24, 32).
Each is a NumPy *object* array ``[codebook, distortion]`` saved with pickle under Python 2:
``codebook`` float64 (K, 3), RGB in [0, 1] of pixels divided by :data:`CSC321_SCALE` (256), and
``distortion`` a float. The assignment reads it with ``np.load(..., allow_pickle=True)``, which
would run any code a tampered file names; :func:`read_csc321_palette` reads the ``.npy``
header with NumPy and the payload with :class:`~nnlab.data.safe_pickle.RestrictedUnpickler`,
which rebuilds NumPy arrays and scalars and nothing else. A plain-text sibling
(``colour_kmeans{K}_cat7.txt``, one colour per row, as ``numpy.savetxt`` writes) is read too.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nnlab.data.errors import DataFormatError
from nnlab.data.safe_pickle import safe_loads

#: the assignment divides pixels by 256 (``process(..., max_pixel=256.0)``) before clustering and
#: before it assigns each pixel its colour class; a palette row times 256 is in uint8 units
CSC321_SCALE = 256.0
#: the palette sizes the assignment ships
CSC321_SIZES = (16, 24, 32)


def csc321_file(num_colours: int) -> str:
    """The assignment's file name for ``num_colours`` colours (class 7: horses)."""
    return f"colour_kmeans{int(num_colours)}_cat7.npy"


def _codebook(value: object, path: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.ndim != 2 or value.shape[1] != 3:
        raise DataFormatError(path, "expected a float codebook of shape (K, 3), found "
                                    f"{getattr(value, 'dtype', type(value).__name__)} {getattr(value, 'shape', '')}")
    if len(value) < 2 or not np.isfinite(value).all() or value.min() < 0 or value.max() > 1:
        raise DataFormatError(path, f"a palette needs at least 2 finite RGB colours in [0, 1]; found {len(value)}"
                                    f" colours in [{value.min():.3g}, {value.max():.3g}]")
    return value.astype(np.float64)


def read_csc321_palette(path: str | Path) -> np.ndarray:
    """The codebook of a CSC321 palette file: (K, 3) float64, RGB in [0, 1] (units of 1/256).

    ``.npy``: the pickled ``[codebook, distortion]`` object array, read without running code;
    a plain float (K, 3) ``.npy`` array is accepted too. ``.txt``: one ``R G B`` row per colour.
    Row i is colour class i. Raises :class:`DataFormatError` naming the file for anything else.
    """
    path = Path(path)
    source = str(path)
    if path.suffix == ".txt":
        try:
            return _codebook(np.loadtxt(path, ndmin=2), source)
        except ValueError as exc:
            raise DataFormatError(source, f"not a table of R G B rows: {exc}") from None
    data = path.read_bytes()
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                  np.lib.format.read_array_header_2_0)(f)
    except ValueError as exc:
        raise DataFormatError(source, f"not a .npy file: {exc}") from None
    shape, _fortran, dtype = header
    if not dtype.hasobject:
        f.seek(0)
        return _codebook(np.load(f, allow_pickle=False), source)
    value = safe_loads(data[f.tell():], source, what="pickled palette", encoding="latin1",
                       holds="a NumPy codebook array and a number (the CSC321 palette format)")
    if not isinstance(value, np.ndarray) or value.shape != shape or not len(value):
        raise DataFormatError(source, f"expected an object array [codebook, distortion], found {type(value).__name__}"
                                      f" {getattr(value, 'shape', '')}")
    return _codebook(value.ravel()[0], source)
