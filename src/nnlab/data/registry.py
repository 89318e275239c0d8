"""Named data sets: where their files go, how to get them, and how to load them.

``load("mnist", split="test")`` finds the files (``--data-dir``, ``NNLAB_DATA``, the cache; see
:mod:`nnlab.data.sources`), optionally downloads the public ones, and calls the right reader.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from nnlab.data.dataset import ImageSet
from nnlab.data.sources import DataFiles, RemoteFile, locate

log = logging.getLogger(__name__)

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MNIST = (
    RemoteFile("train-images-idx3-ubyte.gz", MNIST_URL + "train-images-idx3-ubyte.gz",
               sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", size=9912422),
    RemoteFile("train-labels-idx1-ubyte.gz", MNIST_URL + "train-labels-idx1-ubyte.gz",
               sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", size=28881),
    RemoteFile("t10k-images-idx3-ubyte.gz", MNIST_URL + "t10k-images-idx3-ubyte.gz",
               sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", size=1648877),
    RemoteFile("t10k-labels-idx1-ubyte.gz", MNIST_URL + "t10k-labels-idx1-ubyte.gz",
               sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", size=4542),
)
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FASHION = tuple(RemoteFile(name, FASHION_URL + name, md5=md5) for name, md5 in (
    ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
))
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
#: the data sets in MNIST's IDX layout (28x28 greyscale, 10 classes): what the MNIST experiments take
IDX_SETS = ("mnist", "fashion-mnist")
_CSC321_URL = ("https://raw.githubusercontent.com/IsaacCodes/ConvNetColorization/"
               "9f9881f51e623add8f3bc2024e1abfe3954ec1ed/colours/")
_CSC321 = {
    24: RemoteFile("colour_kmeans24_cat7.npy", _CSC321_URL + "colour_kmeans24_cat7.npy", size=903,
                   sha256="182e780824b5abd532d830e277a69aeec3b74d7e6c51e160f7295cde1e020d2e"),
    16: RemoteFile("colour_kmeans16_cat7.npy", _CSC321_URL + "colour_kmeans16_cat7.npy", size=711,
                   sha256="ae5d9c4bc6f5819216576a2be6a6f183ce2eae09fff082bc4dc3be851c66d7f6"),
    32: RemoteFile("colour_kmeans32_cat7.npy", _CSC321_URL + "colour_kmeans32_cat7.npy", size=1095,
                   sha256="bed9fa258e974df9dcb9cba88b93a5633288061aeb41537d067129fd1e3fa39d"),
}
_CIFAR_DIR = tuple(RemoteFile(f"cifar-10-batches-py/{n}") for n in
                   ("batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch"))


@dataclass(frozen=True)
class Entry:
    """A named data set: its files, its splits, what it is, and its loader."""

    name: str
    files: DataFiles
    splits: tuple[str, ...]
    description: str
    loader: Callable[..., Any]


def _load_mnist(folder: Path, files, split: str, **kw: Any) -> ImageSet:
    from nnlab.data.idx import read_mnist

    return read_mnist(folder, split)


def _load_fashion(folder: Path, files, split: str, **kw: Any) -> ImageSet:
    from nnlab.data.idx import read_mnist

    return replace(read_mnist(folder, split), class_names=list(FASHION_CLASSES), name="fashion-mnist")


def _load_cifar(folder: Path, files, split: str, classes=None, **kw: Any) -> ImageSet:
    from nnlab.data.cifar import read_cifar10

    return read_cifar10(folder / files[0].name.split("/")[0], split, classes=classes)


def _load_palette(folder: Path, files, split: str, **kw: Any):
    from nnlab.data.errors import MissingDataError
    from nnlab.data.palettes import read_csc321_palette

    path = folder / _CSC321[int(split)].name
    if not path.exists():
        raise MissingDataError(f"{path} not found: the CSC321 {split}-colour palette; copy"
                               f" {path.name} from the assignment's colours/ folder there ({_CSC321_URL}{path.name})")
    return read_csc321_palette(path)


def _load_utkface(folder: Path, files, split: str, **kw: Any) -> ImageSet:
    from nnlab.data.utkface import read_utkface

    return read_utkface(folder / files[0].name, **kw)


def _load_fer(folder: Path, files, split: str, **kw: Any) -> ImageSet:
    from nnlab.data import fer

    path = folder / files[0].name
    if path.suffix == ".csv":
        usage = {"train": "Training", "test": "PublicTest", "private_test": "PrivateTest"}[split]
        return fer.read_fer2013_csv(path, usage=usage, **kw)
    return fer.read_fer2013(path, split=split, **kw)


def _load_affectnet(folder: Path, files, split: str, **kw: Any) -> ImageSet:
    from nnlab.data.fer import read_affectnet

    return read_affectnet(folder, split=split, **kw)


def _load_sr(folder: Path, files, split: str, **kw: Any):
    from nnlab.data.images import read_images

    return read_images(folder / split)


REGISTRY: dict[str, Entry] = {
    e.name: e for e in [
        Entry("mnist", DataFiles("mnist", (_MNIST, tuple(RemoteFile(f.name[:-3]) for f in _MNIST))),
              ("train", "test"), "MNIST digits: 60,000 + 10,000 greyscale 28x28, IDX files", _load_mnist),
        Entry("fashion-mnist", DataFiles("fashion-mnist", (_FASHION, tuple(RemoteFile(f.name[:-3]) for f in _FASHION))),
              ("train", "test"), "Fashion-MNIST (Zalando): 60,000 + 10,000 greyscale 28x28 garments in 10 classes,"
              " MNIST's IDX files", _load_fashion),
        Entry("cifar10", DataFiles("cifar-10", (
            _CIFAR_DIR,
            (RemoteFile("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                        md5="c58f30108f718f92721af3b95e74349a", size=170498071),),
        )), ("train", "test"), "CIFAR-10: colour 32x32 in 10 classes, python pickles", _load_cifar),
        Entry("csc321-colours", DataFiles("csc321-colours", tuple((f,) for f in _CSC321.values()),
                                          how_to_get="The CSC321 colourization assignment's colours/ folder:"
                                                     f" {_CSC321_URL}"),
              tuple(str(k) for k in _CSC321), "CSC321's k-means colour palettes of the CIFAR-10 horses"
              " (K = 24, 16, 32), pickled NumPy arrays read without running code", _load_palette),
        Entry("utkface", DataFiles("utkface", (
            (RemoteFile("UTKFace_aligned_cropped_64x64_q90.tar"),),
            (RemoteFile("UTKFace.tar.gz"),),
            (RemoteFile("UTKFace"),),
        ), how_to_get="UTKFace (Aligned&Cropped Faces, UTKFace.tar.gz) is shared by its authors through a"
                      " web drive that needs a browser: see https://susanqq.github.io/UTKFace/ and put the"
                      " archive (or the unpacked UTKFace/ folder) in <DATA>/utkface/."),
              ("all",), "UTKFace faces with age, gender and race in the file names", _load_utkface),
        Entry("fer2013", DataFiles("fer2013", (
            (RemoteFile("FER2013_images.tar"),),
            (RemoteFile("FER2013"),),
            (RemoteFile("fer2013.csv"),),
        ), how_to_get="FER2013 is on Kaggle (a login is needed): the image-folder version (train/ and test/"
                      " with one folder per class) or the original fer2013.csv go in <DATA>/fer2013/."),
              ("train", "test"), "FER2013 facial expressions: greyscale 48x48 in 7 classes", _load_fer),
        Entry("affectnet", DataFiles("affectnet", ((RemoteFile("Train"), RemoteFile("Validation")),),
                                     how_to_get="AffectNet is licence-restricted: request it from its authors"
                                                " and put Train/ and Validation/ (one folder per class) in"
                                                " <DATA>/affectnet/."),
              ("train", "validation"), "AffectNet-style folder-per-class expressions", _load_affectnet),
        Entry("sr-benchmarks", DataFiles("sr-benchmarks", ((RemoteFile("set5"), RemoteFile("set14")),),
                                         how_to_get="Set5 and Set14 (high-resolution PNGs) go in"
                                                    " <DATA>/sr-benchmarks/set5/ and .../set14/."),
              ("set5", "set14"), "Set5 and Set14 super-resolution benchmarks (images of varied sizes)", _load_sr),
    ]
}


def names() -> list[str]:
    return list(REGISTRY)


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(REGISTRY)}") from None


def load(name: str, split: str | None = None, data_dir: str | Path | None = None, download: bool = False,
         **kwargs: Any):
    """Load a named data set's split (the first split by default) as an :class:`ImageSet`
    (a list of ``(name, image)`` for the super-resolution benchmarks)."""
    e = entry(name)
    split = e.splits[0] if split is None else split
    if split not in e.splits:
        raise ValueError(f"{name} has splits {list(e.splits)}, not {split!r}")
    folder, files = locate(e.files, data_dir, download=download, name=name)
    log.info("loading %s/%s from %s", name, split, folder)
    data = e.loader(folder, files, split, **kwargs)
    if isinstance(data, ImageSet) and not data.split:
        data = replace(data, split=split)
    return data
