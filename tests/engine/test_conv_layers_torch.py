"""Layers of the convolution family against torch.nn with the same weights (float64)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from nnlab.engine import (  # noqa: E402
    AvgPool1d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    MaxPool1d,
    Upsample,
)

pytestmark = [
    pytest.mark.torch,
    pytest.mark.usefixtures("torch_one_thread"),
    pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning"),  # torch's own note on even kernels
]


def pair(ours, theirs, shape, rng, train=True):
    if not ours.built:  # build once: rebuilding would reset BatchNorm's running statistics
        ours.build(shape, np.random.default_rng(0), np.float64)
        theirs = theirs.double()
        with torch.no_grad():
            for name, p in ours.named_parameters():
                getattr(theirs, name).copy_(torch.from_numpy(p.data))
    ours.train(train)
    theirs.train(train)
    x = rng.standard_normal((3, *shape))
    tx = torch.tensor(x, requires_grad=True)
    theirs.zero_grad()
    ty = theirs(tx)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.from_numpy(g))
    ours.zero_grad()
    y = ours.forward(x)
    dx = ours.backward(g)
    msg = f"{ours.label()}: ours vs torch"
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=msg + " (output)")
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=msg + " (input grad)")
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs, name).grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=msg + f" ({name} grad)")
    return ours, theirs


CASES = [
    (lambda: Conv2d(3, 4, 3, stride=2, padding=1, dilation=1), lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (3, 7, 6)),
    (lambda: Conv2d(2, 3, (2, 3), dilation=(2, 1), bias=False), lambda: nn.Conv2d(2, 3, (2, 3), dilation=(2, 1), bias=False), (2, 6, 6)),
    (lambda: Conv2d(2, 3, 4, padding="same", dilation=2), lambda: nn.Conv2d(2, 3, 4, padding="same", dilation=2), (2, 9, 8)),
    (lambda: Conv1d(2, 3, 3, stride=2, padding=1), lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 11)),
    (lambda: Conv1d(1, 2, 2, padding="same"), lambda: nn.Conv1d(1, 2, 2, padding="same"), (1, 7)),
    (lambda: ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
     lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (3, 4, 5)),
    (lambda: ConvTranspose2d(2, 2, 2, stride=2, dilation=2, output_padding=1),
     lambda: nn.ConvTranspose2d(2, 2, 2, stride=2, dilation=2, output_padding=1), (2, 3, 3)),
    (lambda: MaxPool1d(3, stride=2, padding=1), lambda: nn.MaxPool1d(3, stride=2, padding=1), (2, 9)),
    (lambda: AvgPool1d(2), lambda: nn.AvgPool1d(2), (3, 9)),
    (lambda: Upsample(3), lambda: nn.Upsample(scale_factor=3), (2, 3, 2)),
    (lambda: Upsample(2, "bilinear"), lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (2, 4, 3)),
]


@pytest.mark.parametrize("ours, theirs, shape", CASES)
def test_layer_matches_torch(ours, theirs, shape, rng):
    pair(ours(), theirs(), shape, rng)


@pytest.mark.parametrize("ours, theirs, shape", [
    (lambda: BatchNorm2d(3), lambda: nn.BatchNorm2d(3), (3, 4, 5)),
    (lambda: BatchNorm1d(4, momentum=0.3), lambda: nn.BatchNorm1d(4, momentum=0.3), (4,)),
    (lambda: BatchNorm1d(2, momentum=None), lambda: nn.BatchNorm1d(2, momentum=None), (2, 6)),
])
def test_batchnorm_running_statistics_over_several_steps(ours, theirs, shape, rng):
    ours, theirs = pair(ours(), theirs(), shape, rng)
    for step in range(4):  # training steps: outputs and running statistics agree
        x = rng.standard_normal((5, *shape)) * (step + 1) + step
        ours.train()
        theirs.train()
        y = ours.forward(x)
        ty = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-9, atol=1e-11)
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(ours._buffers[name], getattr(theirs, name).numpy(), rtol=1e-12,
                                       err_msg=f"{name} after step {step + 1}: ours vs torch")
        assert int(ours._buffers["num_batches_tracked"]) == int(theirs.num_batches_tracked)
    pair(ours, theirs, shape, rng, train=False)  # evaluation mode uses the running statistics
