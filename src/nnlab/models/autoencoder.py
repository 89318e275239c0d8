"""The MNIST autoencoder of seed 004 and the small classifier trained on its codes.

The autoencoder is 784-500-200-100-30-100-200-500-784: ReLU after every hidden layer, no
activation on the 30-unit code, a sigmoid on the reconstruction (pixels in [0, 1]); the seed
trained it with MSE and Adam (lr 1e-3, weight decay 1e-5). It has the layers and the
1,032,414 parameters of ``examples/seed004-autoencoder.yaml``, nested in two parts so that
the encoder can be used on its own::

    model = Sequential([encoder, decoder])   # model.layers[0] is the encoder

The classifier is 30-20-15-10 on the codes (ReLU hidden, logits out, for cross-entropy).
Activations are fused into ``Linear`` as in the YAML; initialisation is ``Linear``'s
``"auto"`` (He for ReLU layers, Xavier otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

from nnlab.engine import ConfigError, Linear, Sequential


def _mlp(sizes: Sequence[int], hidden: str, last: str | None) -> list[Linear]:
    """Linear layers sizes[0] -> sizes[1] -> ... with ``hidden`` after all but the last."""
    return [Linear(a, b, activation=hidden if i < len(sizes) - 2 else last)
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]


def _positive(name: str, values: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(v) for v in values)
    if not out or min(out) < 1:
        raise ConfigError(f"{name} must be positive sizes, got {values!r}")
    return out


def mnist_autoencoder(input_size: int = 784, hidden: Sequence[int] = (500, 200, 100),
                      code_size: int = 30) -> Sequential:
    """The seed-004 autoencoder, as ``Sequential([encoder, decoder])`` (unbuilt).

    Parameters
    ----------
    input_size : int
        Pixels per image: 784 for flattened 28x28 MNIST.
    hidden : sequence of int
        Encoder hidden sizes; the decoder mirrors them (500, 200, 100 in the seed).
    code_size : int
        Size of the code (the bottleneck), 30 in the seed.

    Shapes: (N, input_size) -> (N, input_size); the encoder gives (N, code_size).
    """
    sizes = _positive("input_size, hidden and code_size", (input_size, *hidden, code_size))
    encoder = Sequential(_mlp(sizes, "relu", None), name="encoder")
    decoder = Sequential(_mlp(sizes[::-1], "relu", "sigmoid"), name="decoder")
    return Sequential([encoder, decoder], name="mnist_autoencoder")


def encoder_of(autoencoder: Sequential) -> Sequential:
    """The encoder of a :func:`mnist_autoencoder` model: ``autoencoder.layers[0]``.

    It shares the autoencoder's weights (no copy), so once the autoencoder is trained,
    ``encoder_of(model).predict(x)`` gives the codes.

    Shapes: (N, input_size) -> (N, code_size).
    """
    return _part(autoencoder, 0)


def decoder_of(autoencoder: Sequential) -> Sequential:
    """The decoder of a :func:`mnist_autoencoder` model: ``autoencoder.layers[1]`` (shared weights).

    Shapes: (N, code_size) -> (N, input_size).
    """
    return _part(autoencoder, 1)


def _part(autoencoder: Sequential, index: int) -> Sequential:
    layers = getattr(autoencoder, "layers", None)
    if not layers or len(layers) != 2 or not all(isinstance(part, Sequential) for part in layers):
        raise ConfigError("expected an autoencoder built as Sequential([encoder, decoder])"
                          " (see nnlab.models.mnist_autoencoder)")
    return layers[index]


def code_classifier(code_size: int = 30, hidden: Sequence[int] = (20, 15), num_classes: int = 10) -> Sequential:
    """The seed-004 classifier on autoencoder codes: 30-20-15-10, ReLU hidden, logits out.

    Parameters
    ----------
    code_size : int
        Inputs: the autoencoder's code size.
    hidden : sequence of int
        Hidden layer sizes (20, 15 in the seed).
    num_classes : int
        Outputs (logits; use the cross-entropy loss).

    Shapes: (N, code_size) -> (N, num_classes).
    """
    sizes = _positive("code_size, hidden and num_classes", (code_size, *hidden, num_classes))
    return Sequential(_mlp(sizes, "relu", None), name="code_classifier")
