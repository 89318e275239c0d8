"""The seeds' numbers: one list, judged consistently, naming keys the experiments record."""

import pytest

from nnlab import seeds
from nnlab.experiments import load_all


def test_ids_are_unique_and_experiments_exist():
    ids = [n.id for n in seeds.NUMBERS]
    assert len(ids) == len(set(ids))
    known = load_all()
    for n in seeds.NUMBERS:
        assert n.experiment in known or n.experiment.startswith("exercise:"), n.id
        assert n.mode in ("min", "max", "eq", None) and n.unit and n.what


@pytest.mark.parametrize("mode, target, value, expected", [
    ("min", 11.5, 10.8, True), ("min", 11.5, 11.5, True), ("min", 11.5, 12.0, False),
    ("max", 0.75, 0.7553, True), ("max", 0.75, 0.7, False), ("eq", 7904, 7904, True), ("eq", 7904, 7903, False),
    (None, None, 3.0, None), ("max", 0.5, None, None),
])
def test_met_reads_the_mode(mode, target, value, expected):
    n = seeds.SeedNumber("x", "000", "q", "e", "m", 1.0, "what", "years", target, mode)
    assert n.met(value) is expected


def test_a_target_that_names_a_metric_must_be_beaten_strictly():
    n = seeds.SeedNumber("x", "", "q", "e", "transfer_accuracy", None, "w", "fraction", "vgg_accuracy", "max")
    assert n.met(0.67, {"vgg_accuracy": 0.66}) is True
    assert n.met(0.66, {"vgg_accuracy": 0.66}) is False
    assert n.met(0.67, {}) is None


def test_every_seed_document_has_numbers_and_a_title():
    for doc in ("000", "001", "002", "003", "004"):
        assert seeds.numbers(seed=doc) and doc in seeds.HOMEWORKS


def test_the_seed_base_log_ends_at_the_numbers_the_seed_reports():
    log = seeds.CURVES["001.base"]
    assert [e for e, *_ in log] == list(range(1, 31))
    final = seeds.by_metric("colourization")
    _, train_loss, val_loss, val_acc = log[-1]
    assert (train_loss, val_loss, val_acc) == (final["base_train_loss"].value, final["base_val_loss"].value,
                                               final["base_accuracy"].value)
