from nnlab.metrics.curves import at_reference_losses


def test_each_reference_gets_the_epoch_nearest_in_loss_over_every_curve():
    histories = {"a": {"val_loss": [2.0, 1.5, 1.2], "val_accuracy": [0.3, 0.45, 0.55]},
                 "b": {"val_loss": [1.0, 0.86], "val_accuracy": [0.60, 0.66]}}
    rows = at_reference_losses(histories, {"x": (1.52, 0.447), "y": (0.8474, 0.705)})
    assert [(r["reference"], r["nearest"], r["epoch"]) for r in rows] == [("x", "a", 2), ("y", "b", 2)]
    assert rows[0]["val_accuracy"] == 0.45 and rows[1]["difference"] == round(0.705 - 0.66, 4)
    assert at_reference_losses({}, {"x": (1.0, 0.5)}) == []
