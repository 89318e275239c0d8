"""Chapter 003: homework 4 (Amirkabir University): equivariance, deconvolution, a 1-D network's
gradients, dilated convolution, and facial expressions with a transferred and a light VGG."""

from __future__ import annotations

from nnlab.reporting.book.context import BookContext, Chapter, Question
from nnlab.reporting.render import table

EXP = "expression"


def q_equivariance(b: BookContext) -> list[str]:
    _, text = b.exercise("equivariance")
    return [
        "A convolution applies the same filter at every position, so shifting the input shifts the output by the"
        " same amount: conv(shift(x)) = shift(conv(x)) (the seed proves it with Cohen and Welling's change of"
        " variables). That is why a feature is found wherever it is, and why a convolution needs so few"
        " parameters. Pooling and strides break it partly (a shift by one pixel before a stride-2 layer is not"
        " a shift after it). Checked numerically:\n", text]


def q_deconv(b: BookContext) -> list[str]:
    _, transposed = b.exercise("transposed-conv")
    _, projection = b.exercise("deconv-projection")
    return [
        "A transposed convolution ('deconvolution', 'up-convolution') maps each input value to a whole output"
        " window weighted by the filter: the adjoint of a convolution, which enlarges a map. Zeiler and"
        " Fergus (2014) use it to interpret a network: take one feature map's activation and send it back"
        " through the network, undoing max pooling with the recorded positions ('switches'), applying ReLU,"
        " and convolving with the transposed filters, down to pixel space, where it shows which input pattern"
        " excites that feature. Up-convolution in a decoder (a U-Net) is the same operation with learned"
        " filters, used to produce an image rather than to explain one.\n",
        transposed, projection]


def q_conv1d(b: BookContext) -> list[str]:
    result, text = b.exercise("conv1d-network")
    return [b.compare(["003.conv1d_params"]),
            "Every parameter counted by the engine and by hand, and the gradients: the seed's closed-form"
            " expressions evaluated on one training sample beside the engine's backward pass:\n", text]


def q_dilation(b: BookContext) -> list[str]:
    _, rf = b.exercise("receptive-field")
    _, dil = b.exercise("dilation")
    return [
        "4.1: one KxK convolution with stride 1 sees K x K pixels; each further one adds K - 1, so n stacked"
        " layers see 1 + n(K - 1) pixels across (strides multiply the growth, dilation D widens a kernel to"
        " D(K - 1) + 1):\n", rf,
        "4.2 and 4.3: a dilated convolution with no padding gives an output of (M - DF + D) x (N - DF + D), and it"
        " equals a plain convolution with the dilated kernel K' = K (x) A, where A is D x D with a single 1 in"
        " its top-left corner (the Kronecker product spreads K's entries D apart, cropped to D(F - 1) + 1):\n",
        dil]


def q_augment(b: BookContext) -> list[str]:
    return [
        b.lead(EXP, "Images scaled to [0, 1]. Three training faces per class, three augmented ones, and the class"
               " counts before and after augmentation, under the seed preset and the default:\n", "seed"),
        b.figure(EXP, "samples", preset="seed"),
        b.figure(EXP, "augmented", preset="seed"),
        b.run_table(EXP, "class-counts", preset="seed"),
        b.figure(EXP, "class-counts"),
        b.note(EXP, "Augmentation", preset="seed"),
    ]


def q_transfer(b: BookContext) -> list[str]:
    return [
        b.note(EXP, "Transfer learning: what was pretrained on what"),
        b.compare(["expr.transfer_accuracy", "expr.macro_auc"]),
        b.figure(EXP, "transfer-pretrain-curves"),
        b.figure(EXP, "transfer-curves"), b.figure(EXP, "transfer-roc"), b.figure(EXP, "transfer-confusion"),
    ]


def q_light_vgg(b: BookContext) -> list[str]:
    return [
        b.compare(["expr.vgg_accuracy"]),
        b.figure(EXP, "vgg-curves"), b.figure(EXP, "vgg-roc"), b.figure(EXP, "vgg-confusion"),
        "Parameters of the light VGG against VGG16, counted by the engine from their definitions"
        " (`nnlab models`), as the paper and ImageNet size them:\n",
        _parameter_table(),
        b.lead(EXP, "And as this run trained them (its input size and classes), with their multiply-adds:\n"),
        b.run_table(EXP, "network-costs"),
        b.note(EXP, "The light VGG against VGG16"),
        b.run_table(EXP, "models"),
        b.lead(EXP, "The seed preset (the paper's network at 128 px, no batch normalisation, no test-time"
               " views):\n", "seed"),
        b.run_table(EXP, "models", preset="seed"),
    ]


def _parameter_table() -> str:
    from nnlab.models import create_model

    rows = []
    for name, what in (("light_vgg", "light VGG (Hewitt & Gunes 2018): 3x128x128 in, 8 classes"),
                       ("vgg16", "VGG16 (Simonyan & Zisserman 2015): 3x224x224 in, 1,000 classes")):
        params = create_model(name).num_parameters()
        rows.append({"network": what, "parameters": f"{params:,}", "float32 size": f"{4 * params / 2 ** 20:.1f} MB"})
    ratio = create_model("vgg16").num_parameters() / create_model("light_vgg").num_parameters()
    return table(rows) + f"\nVGG16 has {ratio:.0f} times the light VGG's parameters.\n"


def q_cam(b: BookContext) -> list[str]:
    return [
        "A class activation map weights the last convolutional feature maps by how much each raises the class"
        " score (Grad-CAM: the gradient of the score averaged over the map) and shows where the network looked.\n",
        b.lead(EXP, "Two right and two wrong predictions per class:\n"),
        b.figure(EXP, "vgg-cam"),
        b.run_table(EXP, "vgg-cam-regions"),
        b.note(EXP, "vgg: what the class activation maps suggest"),
        b.figure(EXP, "transfer-cam"),
        b.note(EXP, "transfer: what the class activation maps suggest"),
    ]


CHAPTER = Chapter(
    id="003",
    title="convolutional networks: equivariance, deconvolution, dilation, facial expressions",
    intro="Homework 4 of a neural-networks course (Amirkabir University, 2024). Four theory questions"
          " (translation equivariance; deconvolution and up-convolution for interpretability; a 1-D network's"
          " parameters and gradients; dilated convolution), then facial expression recognition: augmentation,"
          " transfer learning from a pretrained VGG16, the light VGG of Hewitt and Gunes (2018), and class"
          " activation maps. The homework used AffectNet, which cannot be shared; nnlab uses FER2013 and reads"
          " AffectNet's layout too. nnlab's experiment is `expression`; the theory answers are exercises.",
    experiments=(EXP,),
    questions=[
        Question("Q1", "Translation equivariance", "How does parameter sharing in convolution make it equivariant"
                 " to translation? Explain the property and its use.", q_equivariance, theory=True),
        Question("Q2", "Deconvolution and up-convolution", "Deep networks are hard to interpret; how do the"
                 " deconvolutional and up-convolutional ideas help?", q_deconv, theory=True),
        Question("Q3", "A 1-D convolutional network", "Input 785, zero padding 1, Conv1d with a 1x2 kernel and"
                 " ReLU, average pooling, FC1 with ReLU, a sigmoid output and binary cross-entropy: count the"
                 " parameters; for one sample, derive dCost/dW^C_1 and dCost/dW^A_ji.", q_conv1d, theory=True),
        Question("Q4", "Dilated convolution", "The receptive field of a KxK convolution; show the dilated output is"
                 " (M - DF + D) x (N - DF + D); show dilated convolution equals convolution with K' = K (x) A.",
                 q_dilation, theory=True),
        Question("Q5.1", "Preprocessing and augmentation", "Show three samples per class, normalise to [0, 1],"
                 " augment; which transforms suit and why augment? Show three augmented samples per class and"
                 " the counts before and after.", q_augment),
        Question("Q5.2", "Transfer learning", "Fine-tune a pretrained VGG16; loss and accuracy curves, ROC and the"
                 " confusion matrix on the validation folder.", q_transfer),
        Question("Q5.3", "The light VGG", "Implement the paper's light VGG, train it, show its curves, ROC and"
                 " confusion matrix; compare its parameters and performance with the transferred model.",
                 q_light_vgg),
        Question("Q5.4", "Class activation maps", "What does CAM offer for improving a CNN? For two wrong and two"
                 " right predictions per class, compute the maps and propose an improvement.", q_cam),
    ],
)
