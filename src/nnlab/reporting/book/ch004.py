"""Chapter 004: homework 1, Q3 (University of Tehran): an MNIST autoencoder and a classifier on
its 30-d codes."""

from __future__ import annotations

from nnlab.reporting.book.context import BookContext, Chapter, Question

EXP = "mnist-autoencoder"


def q_data(b: BookContext) -> list[str]:
    return ["MNIST's 60,000 training and 10,000 test digits from the original IDX files, scaled to [0, 1]"
            " (the seed's `Normalize(0, 1)` changes nothing), in batches of 100.\n",
            b.figure(EXP, "class-counts", preset="seed"), b.figure(EXP, "samples", preset="seed")]


def q_autoencoder(b: BookContext) -> list[str]:
    return [
        "Encoder 784-500-200-100-30 and the mirrored decoder, ReLU between layers and a sigmoid output (pixels"
        " are in [0, 1]), MSE, Adam lr 1e-3, weight decay 1e-5, 10 epochs (the seed preset). The default keeps"
        " both architectures and improves the training: no weight decay, lr 2e-3 with a cosine decay.\n",
        b.compare(["004.ae_train_loss", "004.ae_val_loss"]),
        b.run_table(EXP, "autoencoder-epochs", preset="seed"),
        "Loss per epoch (the seed's figures 8 and 10) and per iteration (figure 9):\n",
        b.figure(EXP, "autoencoder-curves", preset="seed"),
        b.figure(EXP, "autoencoder-iterations", preset="seed"),
        b.figure(EXP, "autoencoder-curves"),
        f"For reference, the best linear 30-d code (PCA) reconstructs the test digits with MSE"
        f" {b.value(EXP, 'pca30_mse')}.\n",
    ]


def q_reconstructions(b: BookContext) -> list[str]:
    return ["The same test digits after epochs 1, 5 and 9 (the seed's figure 11), and after the last epoch:\n",
            b.figure(EXP, "reconstructions", preset="seed"), b.figure(EXP, "reconstructions")]


def q_classifier(b: BookContext) -> list[str]:
    return [
        "A 30-20-15-10 classifier on the codes, cross-entropy, Adam lr 1e-3 with weight decay 1e-5, 10 epochs"
        " (the seed preset). The default standardises the codes, trains longer with a cosine decay, then"
        " fine-tunes encoder and classifier together (the classifier still reads only the 30-d code).\n",
        b.compare(["004.code_accuracy", "004.code_train_accuracy"]),
        b.figure(EXP, "classifier-curves", preset="seed"),
        "Accuracy on each test batch of 100 (the seed's figure 20) and the confusion matrix (figure 21):\n",
        b.figure(EXP, "test-batch-accuracy", preset="seed"),
        b.figure(EXP, "confusion", preset="seed"),
        b.figure(EXP, "confusion"),
        b.run_table(EXP, "per-class"),
    ]


CHAPTER = Chapter(
    id="004",
    title="an autoencoder for MNIST and a classifier on its codes",
    intro="Question 3 of a deep-learning homework (University of Tehran, 2023): MNIST loaded and normalised,"
          " an autoencoder 784-500-200-100-30 trained to reconstruct it, then a small classifier that reads"
          " only the 30-d code. The seed reports a training loss of 0.0165 after 10 epochs and 93% test"
          " accuracy. nnlab's experiment is `mnist-autoencoder`.",
    experiments=(EXP,),
    questions=[
        Question("3-1", "Preprocessing", "Load MNIST, normalise, batches of 100; the count per class in the"
                 " training data (figure 2) and five random samples with their labels (figure 3).", q_data),
        Question("3-2", "The autoencoder and its training", "Encoder 784-500-200-100-30, the mirrored decoder,"
                 " ReLU, sigmoid output, MSE, Adam lr 1e-3, weight decay 1e-5, 10 epochs; the loss per epoch,"
                 " per iteration, and the validation loss.", q_autoencoder),
        Question("3-2b", "Reconstructions during training", "Inputs and outputs at epochs 1, 5 and 9.",
                 q_reconstructions),
        Question("3-3", "Classification from the codes", "A 30-20-15-10 classifier on the encoded data,"
                 " cross-entropy, Adam lr 1e-3, weight decay 1e-5, 10 epochs: loss and accuracy curves, the"
                 " test accuracy (93%), the accuracy per test batch and the confusion matrix.", q_classifier),
    ],
)
