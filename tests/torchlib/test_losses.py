import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnlab.torchlib.losses import MultiTaskLoss  # noqa: E402

F = torch.nn.functional


def test_multitask_loss_is_the_weighted_sum_of_the_task_losses():
    torch.manual_seed(0)
    out = torch.randn(6, 8, dtype=torch.float64)
    y = torch.tensor(np.stack([np.arange(6.0), [0, 1, 1, 0, 1, 0], [4, 3, 2, 1, 0, 0]], axis=1))
    loss = MultiTaskLoss({"age": (slice(0, 1), 0, "l1", 0.1), "gender": (slice(1, 3), 1, "cross_entropy", 1.0),
                          "ethnicity": (slice(3, 8), 2, "cross_entropy", 2.0)})
    expected = (0.1 * F.l1_loss(out[:, 0], y[:, 0]) + F.cross_entropy(out[:, 1:3], y[:, 1].long())
                + 2.0 * F.cross_entropy(out[:, 3:8], y[:, 2].long()))
    assert torch.allclose(loss(out, y), expected)


def test_multitask_loss_rejects_unknown_kinds_and_flat_targets():
    with pytest.raises(ValueError, match="kind"):
        MultiTaskLoss({"age": (slice(0, 1), 0, "hinge", 1.0)})
    loss = MultiTaskLoss({"age": (slice(0, 1), 0, "mse", 1.0)})
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        loss(torch.zeros(3, 1), torch.zeros(3))
