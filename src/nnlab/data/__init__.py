"""Real data sets: readers for the standard on-disk formats, preprocessing, augmentation.

Every reader returns an :class:`ImageSet` (images (N, C, H, W) uint8 with labels and class
names). ``load(name, split)`` finds a named set's files (``--data-dir``, ``NNLAB_DATA``, the
user's cache), downloads the public ones when asked, and reads them. Nothing is ever written
into a data folder; decoded arrays are cached in the user's cache folder.

Modules: ``idx`` (MNIST format), ``cifar``, ``utkface``, ``fer`` (FER2013 and AffectNet),
``images`` (folder-per-class sets and plain images), ``palettes`` (colourization), ``synthetic``
(smoke-run stand-ins), ``preprocess`` (greyscale, scaling, resizing), ``features`` (standardisation,
PCA), ``splits``, ``superres`` (super-resolution samples), ``augment``, ``sources`` (where data
comes from, downloads) and ``cache``.
"""

from nnlab.data.dataset import ImageSet
from nnlab.data.errors import ChecksumError, DataFormatError, MissingDataError
from nnlab.data.registry import REGISTRY, entry, load, names
from nnlab.data.sources import data_roots, locate

__all__ = ["ImageSet", "ChecksumError", "DataFormatError", "MissingDataError", "REGISTRY", "entry", "load",
           "names", "data_roots", "locate"]
