"""Every hyperparameter of the project, with its default, in one place.

`model.py` takes the "model" fields as flags and saves the config beside the models it builds;
`train.py` loads that config, takes the "train" fields as flags, and saves the result in its run folder;
`translate.py` rebuilds nothing: it reads the saved config to preprocess images the same way.
"""
import argparse
import dataclasses
import json
import os
from dataclasses import dataclass, field

import tensorflow as tf


def _model(default, help):
    return field(default=default, metadata={"group": "model", "help": help})


def _train(default, help):
    return field(default=default, metadata={"group": "train", "help": help})


@dataclass(frozen=True)
class Config:
    # --- topology: the report's figures (model.py) ---
    image_size: int = _model(64, "height = width of the images the model sees; a multiple of 16")
    encoder_private_filters: tuple = _model((32, 64), "conv filters private to each domain's encoder")
    encoder_shared_filters: tuple = _model((128, 256), "conv filters of the encoder part shared by both domains")
    embedding_dim: int = _model(1024, "size of the shared embedding (both dense layers)")
    decoder_shared_filters: tuple = _model((512, 256), "transposed-conv filters shared by both decoders")
    decoder_private_filters: tuple = _model((128, 64), "transposed-conv filters private to each decoder (then 3)")
    discriminator_filters: tuple = _model((16, 32, 32, 32), "conv filters of the manga discriminator")
    discriminator_head: str = _model("pool", "pool (one logit per image, the report's) or patch (one per 4x4 patch)")
    domain_classifier_units: int = _model(256, "hidden units of the domain classifier on the embedding")
    kernel_size: int = _model(3, "kernel of the convs and transposed convs (the report gives none; "
                                 "4 trains 1.5x slower on a CPU)")
    norm: str = _model("batch", "normalization after each conv: batch, instance or none")
    encoder_pool: str = _model("flatten", "how the last 4x4 map becomes a vector: flatten (keeps where) or average")

    # --- training (train.py) ---
    data_dir: str = _train(".", "folder (or gs:// URL) holding train1/ (real) train2/ (manga) test1/ test2/")
    out: str = _train("runs/xgan", "run folder (or gs:// URL): config, checkpoints, logs, samples, trained models")
    epochs: int = _train(5, "passes over the larger training folder")
    max_steps: int = _train(0, "stop after this many steps in all (0: no limit); for smoke runs")
    batch_size: int = _train(32, "images per domain per step")
    learning_rate: float = _train(2e-4, "Adam learning rate of the autoencoders and the domain classifier")
    disc_learning_rate: float = _train(2e-4, "Adam learning rate of the discriminator")
    beta_1: float = _train(0.9, "Adam beta_1 (the report's 0.9)")
    w_rec: float = _train(1.0, "weight of L_rec, reconstruction of both domains")
    w_d: float = _train(0.03, "weight of L_dann, the domain-adversarial loss (scale of the gradient reversal)")
    w_s: float = _train(0.1, "weight of L_sem, semantic consistency of the embedding")
    w_g: float = _train(0.1, "weight of L_gan, real->manga translations fooling the discriminator")
    warmup_epochs: float = _train(1.0, "w_d, w_s and w_g ramp up linearly from 0 over this many epochs")
    real_crop: float = _train(1.0, "side of the centred square cut from each real photo, as a fraction of its width")
    flip: bool = _train(True, "random horizontal flips of the training images")
    sample_count: int = _train(8, "fixed test faces per domain shown in the sample grid each epoch")
    log_every: int = _train(10, "steps per row of log.csv and point of the TensorBoard curves")
    checkpoint_every: int = _train(100, "steps between checkpoints (one is also written at each epoch end)")
    keep_checkpoints: int = _train(3, "how many of the latest checkpoints to keep")
    seed: int = _train(0, "seed of weights, shuffling and flips")
    strategy: str = _train("default", "tf.distribute strategy: default (one device), mirrored (every GPU of this "
                                      "machine) or multiworker (the machines in TF_CONFIG); batch_size is global")
    jit_compile: bool = _train(True, "compile the train step with XLA (1.6x faster on a 2-core CPU, measured); "
                                     "applies to one device: under mirrored or multiworker the step runs unfused")
    mixed_precision: bool = _train(False, "float16 (GPU, with loss scaling) or bfloat16 (CPU) compute; "
                                          "outputs, losses and saved models stay float32")

    def save(self, path):
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=2)

    @classmethod
    def load(cls, path):
        with tf.io.gfile.GFile(path) as f:
            saved = json.load(f)
        known = {f.name: f for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(known[k].default, tuple) else v for k, v in saved.items() if k in known}
        return cls(**values)

    def describe(self):
        """One line per field, non-defaults marked with *, as a run prints at start."""
        lines = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            mark = "*" if value != f.default else " "
            lines.append(f"{mark} {f.name:24} {value}")
        return "\n".join(lines)


def _parse_tuple(text):
    return tuple(int(v) for v in text.split(","))


def _parse_bool(text):
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_config_flags(parser, group):
    """One `--flag` per config field of `group` ("model" or "train"); unset flags parse as None."""
    for f in dataclasses.fields(Config):
        if f.metadata["group"] != group:
            continue
        kind = type(f.default)
        parse = {tuple: _parse_tuple, bool: _parse_bool}.get(kind, kind)
        shown = ",".join(map(str, f.default)) if kind is tuple else f.default
        parser.add_argument("--" + f.name.replace("_", "-"), type=parse, default=None,
                            help=f"{f.metadata['help']} (default: {shown})")


def apply_flags(config, args, group):
    """The config with every flag of `group` that the user gave replacing its field."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
             if f.metadata["group"] == group and getattr(args, f.name, None) is not None}
    return dataclasses.replace(config, **given)


def config_path(model_dir):
    return os.path.join(model_dir, "config.json")
