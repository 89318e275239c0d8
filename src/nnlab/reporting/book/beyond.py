"""The chapter beyond the homework: one CNN for UTKFace's three tasks, against seed 000's MLPs."""

from __future__ import annotations

from nnlab.reporting.book.context import BookContext, Chapter, Question

EXP = "utkface-cnn"


def q_numbers(b: BookContext) -> list[str]:
    return [
        b.compare(experiment=EXP),
        "Seed 000's MLPs on PCA features, beside (the same test faces):\n",
        b.compare(["000.age_rmse", "000.ethnicity_accuracy", "000.gender_accuracy"]),
        b.run_table(EXP, "cnn-vs-mlp"),
    ]


def q_curves(b: BookContext) -> list[str]:
    return [b.figure(EXP, "cnn-curves"), b.figure(EXP, "age-scatter"), b.figure(EXP, "gender-confusion"),
            b.figure(EXP, "ethnicity-confusion"), b.note(EXP, "Setting"),
            "The plain setting (`--preset seed`: no augmentation, a constant rate, a narrower network):\n",
            b.run_table(EXP, "cnn-vs-mlp", preset="seed")]


CHAPTER = Chapter(
    id="beyond",
    title="one CNN for age, gender and ethnicity",
    intro="Seed 000 trained three separate MLPs on PCA features of greyscale faces. A convolutional network"
          " that reads the colour face and predicts all three at once (three heads on one trunk) does much"
          " better on the same test faces. nnlab's experiment is `utkface-cnn`.",
    experiments=(EXP,),
    questions=[
        Question("B1", "The numbers", "Age RMSE, gender and ethnicity accuracy on utkface-mlp's test split,"
                 " against the targets and seed 000's MLPs.", q_numbers),
        Question("B2", "Curves and errors", "Training curves, predicted against true age, confusion matrices.",
                 q_curves),
    ],
)
