"""``expression``: seed 003 Q5, facial expressions with the light VGG and a transferred network.

Data: FER2013 (``dataset: fer2013``; the shared copy trains on an 18,436-image subset and
tests on the complete 7,178-image test set) or AffectNet-style folders (``dataset:
affectnet``: ``Train/`` and ``Validation/``, the latter the test set). Images are greyscale,
scaled to [0, 1]. A seeded, stratified ``val_fraction`` of the training images is held out
for the curves; the test set is used for the final numbers only.

Augmentation: classes of the training part with fewer than ``balance_to`` images are topped
up offline with augmented copies (``augment_offline``; FER2013's disgust, 392 -> 1,000), every
image can get ``augment_copies`` augmented copies offline (the seed's protocol of an enlarged
training set, used by preset ``seed``), and every training batch is augmented online by
:class:`~nnlab.torchlib.augment.RandomAffine` (mirror, rotation, zoom, shift), so each epoch
sees fresh views. The report says which transforms and why, and gives the counts before and
after and three augmented faces per class under every preset.

Models (``models``):

* ``vgg``: the light VGG of Hewitt & Gunes (2018) trained from scratch at ``input_size``:
  64 by default, the 48 px faces upsampled bilinearly by the network's first layer (128 as in
  the paper; 48 native). 64 px gave 66.3% on the test set against 65.1% at 48 (ten views;
  one view: 64.1% against 63.3%), at about 1.8x the time of an epoch (91 s against 51 s, one
  thread on the shared machine).
* ``transfer``: a backbone pretrained on another face task, its head replaced and the whole
  network fine-tuned. ``backbone: light_vgg`` (default) pretrains the same light VGG here on
  UTKFace faces (greyscale, resized to 48 px) to tell gender x ethnicity (10 classes;
  ``pretrain_task: gender_race_age`` also tells three age bands, 30 classes). At 64 px it
  reached 66.6% against the light VGG's 66.3% (ten views; age bands: 66.3%), a difference a
  paired test does not call significant (``benchmarks/expression_paired.py``: p = 0.40);
  ``backbone: vgg16`` loads a torchvision VGG16 state dict from ``vgg16_weights`` (ImageNet;
  nothing is downloaded: the run stops at once if the file is missing).

Both train with AdamW and a cosine schedule with warm-up; test predictions average the
softmax of views of each face: its mirror image (``tta_flip``) and, with ``tta_shift`` s, the
face moved by s pixels up, down, left and right (reflected borders): ten views at the defaults,
like the ten crops of Khaireddin & Chen. ``<model>_plain_accuracy`` records the face alone. For each model: curves, ROC curves
and AUC per class, the confusion matrix, the parameter count and Grad-CAM maps of two right
and two wrong test predictions per class, and where the Grad-CAM mass of up to
``cam_analysis`` right and wrong predictions per class lies (face centre against border, eyes
against mouth) with the improvement those numbers suggest (``face_crop`` is one, wired here).
The light VGG is compared with VGG16 in parameters, multiply-adds and megabytes (seed Q5.3).
Headline metrics: ``vgg_accuracy``, ``transfer_accuracy``, ``macro_auc`` (the transferred
model's), ``vgg_macro_auc``. This module holds the config, training and evaluation; the faces
are :mod:`~nnlab.experiments.expression_data`, the networks
:mod:`~nnlab.experiments.expression_models`, the test-time views
:mod:`~nnlab.experiments.expression_tta`, the notes :mod:`~nnlab.experiments.expression_notes` and
the CAM analysis :mod:`~nnlab.experiments.expression_cam`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.data.splits import split_indices
from nnlab.engine.schedules import CosineWarmup
from nnlab.errors import ConfigError
from nnlab.experiments.config import apply
from nnlab.experiments.expression_cam import cam_analysis, cam_figure
from nnlab.experiments.expression_data import (
    NATIVE_SIZE,
    describe_augmentation,
    load_expressions,
    prepare,
    pretrain_classes,
    stratified_subset,
    task_words,
    utkface_faces,
)
from nnlab.experiments.expression_models import build_light_vgg, build_vgg16, transfer_weights
from nnlab.experiments.expression_notes import (
    cost_note,
    network_costs,
    transfer_note,
)
from nnlab.experiments.expression_tta import predict_proba
from nnlab.experiments.registry import experiment
from nnlab.experiments.run_folder import saved_run
from nnlab.metrics.classification import confusion_matrix, roc_curves
from nnlab.reporting.figures import confusion_figure
from nnlab.reporting.vision import roc_figure
from nnlab.training.callbacks import LearningRateScheduler

log = logging.getLogger(__name__)

MODEL_KEYS = ("vgg", "transfer")
PRETRAIN_TASKS = ("gender_race", "gender_race_age")
BACKBONES = ("light_vgg", "vgg16")


@dataclass
class ExpressionConfig:
    seed: int = 0                  # split, augmentation, weights and data order draw from it
    dataset: str = "fer2013"       # "fer2013" (train/test) or "affectnet" (Train/Validation folders)
    models: list[str] = field(default_factory=lambda: ["vgg", "transfer"])  # trained in turn
    input_size: int = 64           # network input side: 48 native, 128 the paper's (bilinear upsampling)
    val_fraction: float = 0.1      # stratified hold-out of the training images, for the curves
    train_limit: int = 0           # use a stratified N of the training images (0: all)
    test_limit: int = 0            # use a stratified N of the test images (0: all)
    face_crop: float = 1.0         # keep the central fraction of each face's side, resized back to 48 (all splits)
    # augmentation
    balance_to: int = 1000         # offline: top up classes below this many training images (0: none)
    augment_copies: int = 0        # offline: then give every training image this many augmented copies
    augment: bool = True           # online: a fresh RandomAffine view of every training image each epoch
    degrees: float = 10.0          # rotation range +-
    zoom: float = 0.1              # scale range 1 +- zoom
    shift: float = 0.1             # translation range +- (fraction of the side)
    erase: float = 0.0             # online: probability of random erasing after the affine (0.5: 65.1 -> 63.5%)
    # the light VGG
    batch_norm: bool = True        # BatchNorm after every convolution (the paper's network has none)
    dropout: float = 0.5           # after each hidden dense layer
    pools: int = 4                 # stages ending in a max pooling (the paper: 5; at 48 px that leaves 1x1x128)
    # optimisation (both models)
    epochs: int = 50               # passes over the training part
    batch_size: int = 64           # faces per Adam step
    lr: float = 1e-3               # AdamW peak rate; cosine decay to 0 after warm-up
    weight_decay: float = 5e-4     # AdamW's decoupled decay
    warmup_epochs: int = 1         # linear warm-up
    label_smoothing: float = 0.0   # cross-entropy towards (1 - e) one-hot + e / K
    tta_flip: bool = True          # test: average the softmax of each face and its mirror image
    tta_shift: int = 2             # test: also of views shifted +-N px along each axis (0: none)
    # transfer learning
    backbone: str = "light_vgg"    # "light_vgg" (pretrained on UTKFace here) or "vgg16" (needs vgg16_weights)
    vgg16_weights: str = ""        # torchvision VGG16 state dict (vgg16-397923af.pth), for backbone vgg16
    pretrain_epochs: int = 6       # UTKFace pretraining epochs (backbone light_vgg)
    pretrain_task: str = "gender_race"  # UTKFace labels: "gender_race" (10 classes) or "gender_race_age" (x3 age bands)
    pretrain_limit: int = 0        # use only N UTKFace faces (0: all 23,705)
    finetune_epochs: int = 0       # fine-tuning epochs on the expressions (0: epochs)
    finetune_lr: float = 1e-3      # AdamW peak rate when fine-tuning
    # report
    shown_per_class: int = 3       # samples and augmented samples per class
    cam_per_kind: int = 2          # right and wrong test predictions per class in the CAM figure
    cam_relu: int = -3             # conv ReLU whose output Grad-CAM uses (-3: the last of stage 4, 8x8 at 64 px)
    cam_analysis: int = 100        # right and wrong test predictions per class whose CAM regions are measured (0: off)
    cam_box: float = 0.6           # the "face centre" of the CAM analysis: this central fraction of each side
    synthetic_size: int = 210      # training images of the smoke set (test: half as many)


# seed 003 Q5 as far as it goes: the paper's network at 128 px, plain, no TTA; cheaper. Augmentation as the seed
# asks it: a training set enlarged offline by one augmented copy of every face (counts before and after), no online views
SEED_PRESET = {
    "input_size": 128, "batch_norm": False, "pools": 5, "tta_flip": False, "tta_shift": 0, "balance_to": 0,
    "augment_copies": 1, "augment": False, "epochs": 10,
    "pretrain_epochs": 3, "finetune_epochs": 10, "lr": 1e-4, "finetune_lr": 1e-4, "weight_decay": 0.0,
    "train_limit": 8400, "warmup_epochs": 0,
}
SMOKE = {"epochs": 2, "pretrain_epochs": 1, "finetune_epochs": 2, "batch_size": 32, "balance_to": 20, "pretrain_limit": 100,
         "synthetic_size": 112, "input_size": 32, "cam_relu": -1, "cam_analysis": 6}


# -- models ---------------------------------------------------------------------------


def saved_light_vgg(run_dir: str | Path, key: str, num_classes: int):
    """A light VGG that a finished run saved, rebuilt from the run's ``config.yaml`` and loaded
    from ``KEY.pt`` (``torch.load(weights_only=True)``). Returns (config, torch module)."""
    import torch

    run_dir = Path(run_dir)
    cfg = apply(ExpressionConfig(), saved_run(run_dir)["config"] or {}, str(run_dir / "config.yaml"))
    if cfg.backbone != "light_vgg":
        raise ConfigError(f"{run_dir}: backbone {cfg.backbone!r}; only light_vgg networks are rebuilt here")
    weights = run_dir / f"{key}.pt"
    if not weights.is_file():
        raise ConfigError(f"{weights} does not exist (the run saved: {sorted(p.name for p in run_dir.glob('*.pt'))})")
    net, _ = build_light_vgg(cfg, num_classes)
    net.load_state_dict(torch.load(weights, weights_only=True))
    return cfg, net


def check_config(cfg) -> None:
    """Fail before any data is read: unknown names, or VGG16 weights that are not there."""
    from nnlab.torchlib.pretrained import VGG16_URL

    if cfg.dataset not in ("fer2013", "affectnet"):
        raise ConfigError(f"dataset must be 'fer2013' or 'affectnet', got {cfg.dataset!r}")
    bad = [m for m in cfg.models if m not in MODEL_KEYS]
    if bad or not cfg.models:
        raise ConfigError(f"models must be a non-empty list of {list(MODEL_KEYS)}, got {cfg.models}")
    if cfg.backbone not in BACKBONES:
        raise ConfigError(f"backbone must be one of {list(BACKBONES)}, got {cfg.backbone!r}")
    if cfg.pretrain_task not in PRETRAIN_TASKS:
        raise ConfigError(f"pretrain_task must be one of {list(PRETRAIN_TASKS)}, got {cfg.pretrain_task!r}")
    if cfg.input_size < 32:
        raise ConfigError(f"input_size must be >= 32 (the VGGs halve the image five times), got {cfg.input_size}")
    if not 0 <= cfg.tta_shift < NATIVE_SIZE // 2:
        raise ConfigError(f"tta_shift must be in [0, {NATIVE_SIZE // 2}) pixels, got {cfg.tta_shift}")
    if not 0 < cfg.val_fraction < 1:
        raise ConfigError(f"val_fraction must be in (0, 1), got {cfg.val_fraction}")
    if not 0.5 <= cfg.face_crop <= 1:
        raise ConfigError(f"face_crop must be in [0.5, 1] (the kept fraction of each side), got {cfg.face_crop}")
    if not 0 < cfg.cam_box < 1:
        raise ConfigError(f"cam_box must be in (0, 1), got {cfg.cam_box}")
    if cfg.augment_copies < 0 or cfg.cam_analysis < 0:
        raise ConfigError(f"augment_copies and cam_analysis must be >= 0, got {cfg.augment_copies}, {cfg.cam_analysis}")
    if "transfer" in cfg.models and cfg.backbone == "vgg16":
        path = Path(cfg.vgg16_weights).expanduser() if cfg.vgg16_weights else None
        if path is None or not path.is_file():
            where = f"the file {str(path)!r} does not exist" if path else "vgg16_weights is not set"
            raise ConfigError(
                f"backbone vgg16 needs ImageNet weights, but {where}. Download torchvision's VGG16 state dict"
                f" ({VGG16_URL}, 528 MB) on a machine that is online, copy it here and pass"
                " --set vgg16_weights=/path/to/vgg16-397923af.pth (nothing is downloaded by this experiment);"
                " or use backbone light_vgg, pretrained here on UTKFace.")


def train(ctx, name: str, net, x, y, val, epochs: int, lr: float, augment, caption: str):
    """Train ``net`` (AdamW, label smoothing, the cosine schedule) as phase ``name`` of the run;
    return (trainer, history, seconds)."""
    cfg = ctx.cfg
    loss = {"name": "cross_entropy", "label_smoothing": cfg.label_smoothing}
    trainer = ctx.trainer(net, loss=loss, optimizer={"name": "adamw", "lr": lr, "weight_decay": cfg.weight_decay},
                          metrics=["accuracy"], channels_last=True)
    schedule = LearningRateScheduler(CosineWarmup(lr, epochs, min(cfg.warmup_epochs, epochs - 1)))
    history, seconds = ctx.fit(name, trainer, x, y, epochs=epochs, batch_size=cfg.batch_size, validation_data=val,
                               callbacks=[schedule], augment=augment, caption=caption)
    return trainer, history, seconds


def pretrain_backbone(ctx, augment):
    """The light VGG trained on UTKFace (``pretrain_task``); returns the torch module."""
    cfg = ctx.cfg
    x, y, names = utkface_faces(ctx)
    fit_idx, val_idx = split_indices(y, (1 - cfg.val_fraction, cfg.val_fraction), seed=cfg.seed)
    net, params = build_light_vgg(cfg, len(names))
    log.info("pretraining the light VGG on %d UTKFace faces (%s, %d classes)", len(fit_idx), task_words(cfg),
             len(names))
    _, history, seconds = train(ctx, "transfer-pretrain", net, x[fit_idx], y[fit_idx], (x[val_idx], y[val_idx]),
                                cfg.pretrain_epochs, cfg.lr, augment,
                                caption=f"pretraining on UTKFace: {task_words(cfg)} ({len(names)} classes),"
                                        f" {len(fit_idx)} faces, validation = {len(val_idx)} held-out faces")
    ctx.record(pretrain_val_accuracy=float(history["val_accuracy"][-1]), pretrain_s=round(seconds, 1),
               pretrain_faces=len(fit_idx))
    return net


def train_model(ctx, key: str, data: dict[str, Any]) -> dict[str, Any]:
    """Build (and for ``transfer`` pretrain and re-head) one network, then train it on the
    expressions. Returns the module, trainer, history, parameter count and seconds."""
    cfg = ctx.cfg
    k = len(data["classes"])
    augment = data["online"] if cfg.augment else None
    epochs, lr = cfg.epochs, cfg.lr
    if key == "vgg":
        net, params = build_light_vgg(cfg, k)
        what = "light VGG from scratch"
    else:
        epochs, lr = cfg.finetune_epochs or cfg.epochs, cfg.finetune_lr
        if cfg.backbone == "vgg16":
            net, params = build_vgg16(cfg, k)
            what = f"VGG16 from {Path(cfg.vgg16_weights).name}, fine-tuned"
        else:
            net, params = build_light_vgg(cfg, k)
            fresh = transfer_weights(pretrain_backbone(ctx, augment), net)
            log.info("transfer: the new head %s starts from scratch; the rest from the UTKFace backbone", fresh)
            what = f"light VGG pretrained on UTKFace {task_words(cfg)}, new head, fine-tuned"
    trainer, history, seconds = train(ctx, key, net, data["x_fit"], data["y_fit"], (data["x_val"], data["y_val"]),
                                      epochs, lr, augment,
                                      caption=f"{key} ({what}): cross-entropy and accuracy per epoch, training"
                                              " (augmented) and validation (held-out training images)")
    ctx.record(**{f"{key}_params": params, f"{key}_epoch_s": round(seconds / len(history["loss"]), 2),
                  f"{key}_train_s": round(seconds, 1), f"{key}_val_accuracy": float(history["val_accuracy"][-1])})
    ctx.save_model(net, key)
    return {"net": net, "trainer": trainer, "params": params, "what": what, "epochs": len(history["loss"])}


# -- evaluation -------------------------------------------------------------------------


def evaluate(ctx, key: str, model: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Test accuracy, ROC/AUC, confusion matrix and the CAM figure of one model; a table row."""
    cfg, classes = ctx.cfg, data["classes"]
    x, y = data["x_test"], data["y_test"]
    proba, plain = predict_proba(model["trainer"], x, cfg.tta_flip, cfg.tta_shift)   # (N, K) each
    pred = proba.argmax(axis=1)
    acc = float(np.mean(pred == y))
    ctx.record(**{f"{key}_plain_accuracy": float(np.mean(plain.argmax(axis=1) == y))})
    roc = roc_curves(y, proba, len(classes))
    ctx.record(**{f"{key}_accuracy": acc, f"{key}_macro_auc": roc["macro_auc"], f"{key}_micro_auc": roc["micro_auc"],
                  f"{key}_auc_per_class": {c: float(a) for c, a in zip(classes, roc["auc"])}})
    ctx.figure(f"{key}-roc", roc_figure(roc, classes, f"{key}: test ROC, one vs rest"),
               f"{key}: one-vs-rest ROC curves on the {len(y):,} test faces, AUC per class")
    cm = confusion_matrix(y, pred, num_classes=len(classes))
    ctx.figure(f"{key}-confusion", confusion_figure(cm, classes, f"{key}: test accuracy {acc:.3f}"),
               f"{key}: confusion matrix on the test faces (rows: true class)")
    cam_figure(ctx, key, model["net"], x, y, pred, classes)
    if cfg.cam_analysis > 0:
        cam_analysis(ctx, key, model["net"], x, y, pred, classes)
    return {"model": key, "network": model["what"], "params": model["params"], "epochs": model["epochs"],
            "test_accuracy": round(acc, 4), "macro_auc": round(roc["macro_auc"], 4)}


ABOUT = """Seed 003's question 5: recognising seven facial expressions in FER2013's 48x48 greyscale faces. A
light VGG (Hewitt & Gunes 2018) is trained from scratch and compared with a network pretrained on another
face task and fine-tuned; the report shows the data and its augmentation, the training curves, ROC curves
and confusion matrices on the test faces, what each network costs, and class activation maps of right and
wrong predictions with the improvement they suggest."""

METRICS = {
    "vgg_accuracy": ("light VGG from scratch: test accuracy (test-time views averaged)", "fraction"),
    "transfer_accuracy": ("pretrained and fine-tuned network: test accuracy (test-time views averaged)", "fraction"),
    "macro_auc": ("transferred network: macro one-vs-rest ROC AUC on the test faces", ""),
    "pretrain_val_accuracy": ("UTKFace pretraining: accuracy on its held-out faces after the last epoch", "fraction"),
    "pretrain_s": ("seconds spent pretraining on UTKFace", "s"),
    "pretrain_faces": ("UTKFace faces the backbone was pretrained on", "count"),
    "n_train": ("training faces before augmentation (validation part held out)", "count"),
    "n_train_augmented": ("training faces after offline augmentation", "count"),
    "n_val": ("held-out validation faces (for the curves)", "count"),
    "n_test": ("test faces", "count"),
    "vgg16_params": ("parameters of VGG16 at the input used here (1 channel, the expression classes)", "count"),
    "vgg16_params_ratio": ("VGG16's parameters over the light VGG's, at the same input", ""),
    "vgg16_mult_adds_m": ("VGG16 at the input used here: multiply-adds per face, in millions", ""),
    "vgg_mult_adds_m": ("light VGG as trained here: multiply-adds per face, in millions", ""),
    "{model}_cam_centre_right": ("{model}: share of Grad-CAM mass on the face centre, right predictions", "fraction"),
    "{model}_cam_centre_wrong": ("{model}: share of Grad-CAM mass on the face centre, wrong predictions", "fraction"),
    "{model}_cam_lower_right": ("{model}: share of the centre's CAM mass on its lower half (mouth), right"
                                " predictions", "fraction"),
    "{model}_cam_lower_wrong": ("{model}: share of the centre's CAM mass on its lower half (mouth), wrong"
                                " predictions", "fraction"),
    "{model}_plain_accuracy": ("{model}: test accuracy on the faces alone (no test-time views)", "fraction"),
    "{model}_val_accuracy": ("{model}: accuracy on the held-out validation faces after the last epoch", "fraction"),
    "{model}_macro_auc": ("{model}: macro one-vs-rest ROC AUC on the test faces", ""),
    "{model}_micro_auc": ("{model}: micro-averaged one-vs-rest ROC AUC on the test faces", ""),
    "{model}_auc_per_class": ("{model}: one-vs-rest ROC AUC of each class on the test faces", ""),
    "{model}_params": ("{model}: trainable parameters", "count"),
    "{model}_epoch_s": ("{model}: seconds per training epoch", "s"),
    "{model}_train_s": ("{model}: seconds spent training on the expressions", "s"),
    "{model}_accuracy": ("{model}: test accuracy (test-time views averaged)", "fraction"),
}


@experiment("expression", "seed 003 Q5: facial expressions (FER2013) with the light VGG and a transferred network",
            config=ExpressionConfig, presets={"seed": SEED_PRESET}, smoke=SMOKE,
            objective=("transfer_accuracy", "max"), engines=("torch",), about=ABOUT, metrics=METRICS, check=check_config,
            phases=lambda cfg: [p for key in cfg.models for p in (["transfer-pretrain"] if key == "transfer"
                                                                  and cfg.backbone != "vgg16" else []) + [key]])
def run(ctx) -> None:
    cfg = ctx.cfg
    train, test = load_expressions(ctx)
    train = stratified_subset(train, cfg.train_limit, cfg.seed)
    test = stratified_subset(test, cfg.test_limit, cfg.seed)
    log.info("%d training and %d test faces, classes %s", len(train), len(test), train.class_names)
    data = prepare(ctx, train, test)
    rows = []
    for key in cfg.models:
        model = train_model(ctx, key, data)
        rows.append(evaluate(ctx, key, model, data))
        rows[-1]["epoch_s"] = ctx.metrics[f"{key}_epoch_s"]
    if "transfer" in cfg.models:
        ctx.record(macro_auc=ctx.metrics["transfer_macro_auc"])
    ctx.table("models", rows, "parameters, epochs, seconds per epoch and test results of each network")
    compare_costs(ctx, len(data["classes"]))
    if "transfer" in cfg.models:
        ctx.note(transfer_note(cfg, len(data["classes"]), ctx.metrics.get("pretrain_faces"), task_words(cfg),
                               len(pretrain_classes(cfg))), title="Transfer learning: what was pretrained on what")
    ctx.note(setting_note(cfg, data), title="Setting")


def compare_costs(ctx, num_classes: int) -> None:
    """The seed's Q5.3: the light VGG against VGG16 in parameters, multiply-adds and megabytes."""
    rows = network_costs(ctx.cfg, num_classes)
    ctx.table("network-costs", rows, "parameters, multiply-adds of one forward pass (convolutions and dense layers)"
              " and float32 size of the light VGG and VGG16, at the input used here and as published")
    ctx.record(vgg16_params=rows[2]["parameters"], vgg16_mult_adds_m=rows[2]["mult_adds_M"],
               vgg_mult_adds_m=rows[0]["mult_adds_M"], vgg16_params_ratio=rows[2]["params_vs_light"])
    ctx.note(cost_note(rows, ctx.metrics), title="The light VGG against VGG16")


def _describe_tta(cfg) -> str:
    views = (5 if cfg.tta_shift > 0 else 1) * (2 if cfg.tta_flip else 1)
    if views == 1:
        return "use the face alone"
    what = (["its mirror image"] if cfg.tta_flip else []) + ([f"shifts of {cfg.tta_shift} px"] if cfg.tta_shift > 0 else [])
    return f"average the softmax of {views} views of each face ({' and '.join(what)})"


def setting_note(cfg, data: dict[str, Any]) -> str:
    return (
        f"{cfg.dataset}: {len(data['y_fit']):,} training images after offline augmentation (validation"
        f" {len(data['y_val']):,}, test {len(data['y_test']):,}), greyscale {NATIVE_SIZE} px in [0, 1], network input"
        f" {cfg.input_size} px{f', the central {cfg.face_crop:.0%} of each side' if cfg.face_crop < 1 else ''}."
        f" Online augmentation: {describe_augmentation(cfg) if cfg.augment else 'none'}. Light VGG"
        f" (batch_norm {cfg.batch_norm}, dropout {cfg.dropout:g}); AdamW lr {cfg.lr:g}, weight decay"
        f" {cfg.weight_decay:g}, batch {cfg.batch_size}, {cfg.epochs} epochs, cosine schedule with"
        f" {cfg.warmup_epochs} warm-up epoch(s)."
        + ((f" Transfer: backbone {cfg.backbone}"
            + (f", pretrained {cfg.pretrain_epochs} epochs on UTKFace {task_words(cfg)}" if cfg.backbone == "light_vgg"
               else f" from {cfg.vgg16_weights}")
            + f", fine-tuned {cfg.finetune_epochs or cfg.epochs} epochs at lr {cfg.finetune_lr:g}.")
           if "transfer" in cfg.models else "")
        + f" Test predictions {_describe_tta(cfg)}. Anchors: humans about"
        " 65% on FER2013, a tuned VGG 73.28% (Khaireddin & Chen 2021).")
