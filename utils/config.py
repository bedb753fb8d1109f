"""Every hyperparameter of the project, with its default and what values it may take, in one place.

`model.py` takes the "model" fields as flags (and a --preset) and saves the config beside the models it
builds; `train.py` loads that config, takes the "train" fields as flags, and saves the result in its run
folder; `translate.py` rebuilds nothing: it reads the saved config to preprocess images the same way.
"""
import argparse
import dataclasses
import json
import math
import os
import sys
from dataclasses import dataclass, field

import tensorflow as tf

from utils.distribute import fast_mixed_precision, fast_xla


class ConfigError(ValueError):
    """A saved config.json or a preset with a value this version does not allow."""


def _field(group, default, help, allowed=None, check=None, parse=None):
    """A config field; `check(value)` says whether a value is allowed and `allowed` says so in words; `parse`
    turns a flag's text into the value (default: by the default's type)."""
    if allowed is not None and check is None:  # a list of choices
        allowed, check = " or ".join(allowed), (lambda v, choices=tuple(allowed): v in choices)
    return field(default=default, metadata={"group": group, "help": help, "allowed": allowed, "check": check,
                                            "parse": parse})


def _model(default, help, allowed=None, check=None):
    return _field("model", default, help, allowed, check)


def _train(default, help, allowed=None, check=None, parse=None):
    return _field("train", default, help, allowed, check, parse)


def _translate(default, help, allowed=None, check=None):
    """A setting of translation only: saved with the models, given again to translate.py, evaluate.py, app.py
    and export.py to replace the saved value."""
    return _field("translate", default, help, allowed, check)


POSITIVE = ("a positive whole number", lambda v: v > 0)
NOT_NEGATIVE = ("0 or more", lambda v: v >= 0)
FILTERS = ("positive whole numbers separated by commas", lambda v: len(v) > 0 and all(f > 0 for f in v))
SOME_FILTERS = ("positive whole numbers separated by commas, or nothing", lambda v: all(f > 0 for f in v))
UNIT_INTERVAL = ("a number in (0, 1]", lambda v: 0 < v <= 1)
DECAY = ("0 (off) or a number in [0.5, 1)", lambda v: v == 0 or 0.5 <= v < 1)
AUGMENTATIONS = ("color", "translation", "cutout")


@dataclass(frozen=True)
class Config:
    # --- topology (model.py); `--preset report` gives the report's ---
    image_size: int = _model(64, "height = width of the images the model sees",
                             "a multiple of the topology's downsampling factor", lambda v: v > 0)
    encoder_private_filters: tuple = _model((32, 64), "conv filters private to each domain's encoder", *FILTERS)
    encoder_shared_filters: tuple = _model((128,), "conv filters of the encoder part shared by both domains",
                                           *FILTERS)
    residual_blocks: int = _model(1, "residual blocks at the smallest map, in the shared encoder and in the shared "
                                     "decoder", *NOT_NEGATIVE)
    embedding: str = _model("map", "shared embedding: map (a small spatial map, each position a unit vector: keeps "
                                   "where things are) or vector (the report's: one unit vector per face)",
                            ("map", "vector"))
    embedding_dim: int = _model(64, "size of the shared embedding: channels per position (map) or its length "
                                    "(vector, both dense layers)", *POSITIVE)
    encoder_pool: str = _model("flatten", "vector embedding: how the last map becomes a vector, flatten (keeps "
                                          "where) or average (the report's pooling)", ("flatten", "average"))
    decoder_shared_filters: tuple = _model((128, 64), "filters shared by both decoders: the first at the embedding's "
                                                      "size, each further one after an upsampling", *FILTERS)
    decoder_private_filters: tuple = _model((32,), "filters private to each decoder, each after an upsampling "
                                                   "(then a last upsampling to 3 channels)", *SOME_FILTERS)
    upsample: str = _model("nearest", "how the decoders double the size: nearest (nearest-neighbour upsampling, then "
                                      "a conv: no checkerboard) or transposed (the report's transposed convs)",
                           ("nearest", "transposed"))
    discriminator_stem: int = _model(16, "filters of a first discriminator conv at full size (stride 1), which sees "
                                         "the pixel-level checkerboard that a stride-2 first layer aliases away; 0: "
                                         "none (the report's)", *NOT_NEGATIVE)
    discriminator_filters: tuple = _model((64, 128, 256), "conv filters of each discriminator (stride 2 each)",
                                          *FILTERS)
    discriminator_head: str = _model("patch", "pool (one logit per image, the report's) or patch (one per position "
                                              "of the last map)", ("pool", "patch"))
    discriminators: str = _model("both", "which domains get a discriminator: manga (the report's: real->manga "
                                         "translations only) or both", ("manga", "both"))
    spectral_norm: bool = _model(False, "spectral normalization of every discriminator layer (Miyato et al. 2018)")
    domain_classifier_units: int = _model(128, "hidden units (or conv filters) of the domain classifier on the "
                                                "embedding", *POSITIVE)
    kernel_size: int = _model(3, "kernel of the convs and transposed convs (the report gives none)", *POSITIVE)
    norm: str = _model("batch", "normalization after each conv of the autoencoders", ("batch", "instance", "none"))
    seed: int = _model(0, "seed of the initial weights (model.py), and of the data order, flips and augmentations "
                          "of the training that goes on from them (train.py)", *NOT_NEGATIVE)

    # --- training (train.py) ---
    data_dir: str = _train(".", "folder (or gs:// URL) holding train1/ (real) train2/ (manga) test1/ test2/")
    out: str = _train("runs/xgan", "run folder (or gs:// URL): config, checkpoints, logs, samples, trained models")
    epochs: int = _train(42, "passes over the larger training folder (26 where model.py finds no bfloat16 "
                             "arithmetic: about the same minutes in float32)", *POSITIVE)
    max_steps: int = _train(0, "stop after this many steps in all (0: no limit); for smoke runs", *NOT_NEGATIVE)
    batch_size: int = _train(16, "images per domain per step", *POSITIVE)
    learning_rate: float = _train(1e-3, "Adam learning rate of the autoencoders (their decoders: see "
                                        "--decoder-learning-rate) and the domain classifier",
                                  "a positive number", lambda v: v > 0)
    decoder_learning_rate: float = _train(2e-3, "Adam learning rate of both decoders (shared and private parts), "
                                                "with an Adam of their own (0: --learning-rate, in the "
                                                "autoencoders' Adam, the report's)", *NOT_NEGATIVE)
    disc_learning_rate: float = _train(4e-4, "Adam learning rate of the discriminators", "a positive number",
                                       lambda v: v > 0)
    beta_1: float = _train(0.5, "Adam beta_1 of every optimizer (the report's: 0.9)", "a number in [0, 1)",
                           lambda v: 0 <= v < 1)
    gan_loss: str = _train("hinge", "adversarial loss: bce (the report's), lsgan (least squares) or hinge",
                           ("bce", "lsgan", "hinge"))
    augment: str = _train("none", "DiffAugment of everything the discriminators see, real and "
                                                      "translated alike: any of color, translation, cutout "
                                                      "(comma-separated), or none",
                          "none or a comma-separated list of " + ", ".join(AUGMENTATIONS),
                          lambda v: v == "none" or all(p in AUGMENTATIONS for p in v.split(",")))
    r1: float = _train(1.0, "weight of the R1 gradient penalty on real faces (on each face's summed patch logits) "
                            "in each discriminator's loss (0: none, the report's)", *NOT_NEGATIVE)
    ema: float = _train(0.999, "decay of the moving average of the autoencoders' weights that translation uses "
                               "(0: off, translate with the last weights)", *DECAY)
    w_rec: float = _train(1.0, "weight of L_rec, reconstruction of both domains", *NOT_NEGATIVE)
    w_edge: float = _train(1.0, "weight of the gradient difference loss between each face and its reconstruction "
                                "(Mathieu et al. 2016: edges as strong as the face's; 0: none, the report's)",
                           *NOT_NEGATIVE)
    w_d: float = _train(0.3, "weight of L_dann, the domain-adversarial loss (scale of the gradient reversal)",
                        *NOT_NEGATIVE)
    w_align: float = _train(0.3, "weight of L_align: the codes of photos and of manga faces (every position's "
                                 "pooled) with the same mean and covariance in the batch (Deep CORAL; 0: none, "
                                 "the report's)",
                            *NOT_NEGATIVE)
    w_s: float = _train(0.1, "weight of L_sem, semantic consistency of the embedding", *NOT_NEGATIVE)
    w_g: float = _train(0.3, "weight of L_gan, translations fooling the discriminators", *NOT_NEGATIVE)
    w_col: float = _train(0.1, "weight of L_col, the chroma layout (colour less grey, 4x4 block means) kept "
                               "from each face to its translation (0: none, the report's)", *NOT_NEGATIVE)
    col_epochs: float = _train(6.0, "epochs after which L_col switches off: it anchors each face's colours early, "
                                    "then leaves the decoders free to draw (0: on all run)", *NOT_NEGATIVE)
    emb_noise: float = _train(0.0, "standard deviation of the Gaussian noise added to each component of the "
                                   "embedding before the decoders in training, the code then scaled back to unit "
                                   "length (a denoising autoencoder; 0: none, the report's)", *NOT_NEGATIVE)
    w_sharp: float = _train(0.0, "weight of L_sharp: half of each batch of faces, blurred and encoded by the other "
                                 "domain's encoder, drawn back sharp by their own decoder (L1 and edges; 0: none, "
                                 "the report's)", *NOT_NEGATIVE)
    sharp_domains: str = _train("manga", "whose faces L_sharp draws back sharp: manga (a blurred manga face through "
                                         "the real encoder: the real->manga path) or both", ("manga", "both"))
    decay_epochs: float = _train(14.0, "every learning rate falls linearly to 0 over the last this many epochs "
                                       "before --epochs (CycleGAN's schedule; 0: constant rates)", *NOT_NEGATIVE)
    warmup_epochs: float = _train(1.0, "w_d, w_s, w_g and w_col ramp up linearly from 0 over this many epochs",
                                  *NOT_NEGATIVE)
    real_crop: float = _train(0.75, "side of the centred square cut from each real photo, as a fraction of its "
                                    "shorter side (0.75: the face fills the frame as a manga face does)",
                              *UNIT_INTERVAL)
    flip: bool = _train(True, "random horizontal flips of the training images")
    sample_count: int = _train(8, "fixed test faces per domain shown in the sample grid each epoch", *POSITIVE)
    quality_every: int = _train(3, "epochs between quality measures of the validation faces (KID x100, input "
                                   "retrieval, domain score) in log.csv; 0: never", *NOT_NEGATIVE)
    quality_features: str = _train("auto", "features of the per-epoch KID: auto (the FID InceptionV3 where "
                                           "requirements-metrics.txt is installed, else the domain classifier's), "
                                           "fid-inception or classifier",
                                   ("auto", "fid-inception", "classifier"))
    log_every: int = _train(10, "steps per row of log.csv and point of the TensorBoard curves", *POSITIVE)
    checkpoint_every: int = _train(100, "steps between checkpoints (one is also written at each epoch end)",
                                   *POSITIVE)
    keep_checkpoints: int = _train(3, "how many of the latest checkpoints to keep", *POSITIVE)
    strategy: str = _train("default", "tf.distribute strategy: default (one device), mirrored (every GPU of this "
                                      "machine) or multiworker (the machines in TF_CONFIG); batch_size is global",
                           ("default", "mirrored", "multiworker"))
    jit_compile: bool = _train(True, "compile the train step with XLA (1.3x faster on an AVX2 CPU, 1.4x slower on "
                                     "an AVX-512 one: docs/speed.md); applies to one device: under mirrored or "
                                     "multiworker the step runs unfused. auto: on a GPU or a CPU without AVX-512, "
                                     "saved as true or false",
                               parse=lambda text: _parse_bool(text, auto=fast_xla))
    mixed_precision: bool = _train(False, "float16 (GPU, with loss scaling) or bfloat16 (CPU) compute; "
                                          "outputs, losses and saved models stay float32. auto: on where it is "
                                          "faster (a GPU, or a CPU with bfloat16 arithmetic: avx512_bf16 or "
                                          "amx_bf16), saved as true or false",
                                   parse=lambda text: _parse_bool(text, auto=fast_mixed_precision))

    # --- translation (translate.py, evaluate.py, app.py, export.py; train.py's samples and quality use it too) ---
    sharpen: float = _translate(1.0, "unsharp masking of each photo before the real encoder when it is translated "
                                      "(not in training): photo + SHARPEN * (photo - blurred photo). The photos are "
                                      "softer than drawn faces; sharpened, they are drawn with the outlines of manga "
                                      "faces (docs/findings.md); 0: off, the report's", *NOT_NEGATIVE)
    smooth: float = _translate(20.0, "edge-preserving (bilateral) smoothing of each translation into a manga face: "
                                     "colour differences of about SMOOTH 8-bit levels are smoothed over, outlines "
                                     "kept; it takes the grain off that KID sees (docs/quality.md); 0: off, the "
                                     "report's", *NOT_NEGATIVE)

    def save(self, path):
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=2)

    @classmethod
    def load(cls, path):
        with tf.io.gfile.GFile(path) as f:
            saved = json.load(f)
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(saved) - set(known))
        if unknown:  # written by another version of the project: said, not silently dropped
            print(f"warning: {path}: unknown settings ignored: {', '.join(unknown)}", file=sys.stderr)
        values = {k: tuple(v) if isinstance(known[k].default, tuple) and isinstance(v, list) else v
                  for k, v in saved.items() if k in known}
        return cls(**values).checked(f"{path}: ", "Correct the file, or make the folder anew")

    def describe(self):
        """One line per field, non-defaults marked with *, as a run prints at start."""
        lines = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            mark = "*" if value != f.default else " "
            lines.append(f"{mark} {f.name:24} {value}")
        return "\n".join(lines)

    def problems(self):
        """[(field, value, what is allowed)] for every field whose value is not allowed."""
        found = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            wrong = refusal(value, type(f.default), f.metadata["allowed"], f.metadata["check"])
            if wrong:
                found.append((f.name, value, wrong))
        return found

    def checked(self, where, fix):
        """This config, or ConfigError naming (after `where`) its first field whose value is not allowed."""
        for name, value, wrong in self.problems():
            raise ConfigError(f"{where}{name} = {value!r} is not allowed: use {wrong}. {fix}.")
        return self


PRESETS = {
    # The recipe of the field defaults, resolved for this machine when model.py saves it: bfloat16 where the
    # CPU computes it, XLA where it is the faster, and on a CPU without bfloat16 arithmetic FLOAT32's
    # shorter schedule (float32 steps take about 1.6 times as long).
    "default": dict(mixed_precision="auto", jit_compile="auto"),
    # The default of earlier versions: 3 epochs of the uncut photos, unsharpened and unsmoothed. The check that
    # everything runs (what the tests use), in minutes; its faces are blurry paintings, not manga faces.
    "quick": dict(real_crop=1.0, epochs=3, decay_epochs=0.0, quality_every=1, sharpen=0.0, smooth=0.0,
                  jit_compile="auto"),
    # The report's topology and settings (section 3 and its code), with this project's bug fixes (docs/design.md).
    "report": dict(
        encoder_shared_filters=(128, 256), residual_blocks=0, embedding="vector", embedding_dim=1024,
        encoder_pool="average", decoder_shared_filters=(512, 256), decoder_private_filters=(128, 64),
        upsample="transposed", discriminator_stem=0, discriminator_filters=(16, 32, 32, 32), discriminator_head="pool",
        discriminators="manga", spectral_norm=False, domain_classifier_units=256,
        batch_size=32, learning_rate=1e-3, disc_learning_rate=1e-3, beta_1=0.9, gan_loss="bce", augment="none", r1=0.0,
        decoder_learning_rate=0.0, ema=0.0, w_edge=0.0, w_align=0.0, w_d=1.0, w_s=1.0, w_g=1.0, w_col=0.0,
        col_epochs=0.0, warmup_epochs=0.0, real_crop=1.0, epochs=3, decay_epochs=0.0, quality_every=1, sharpen=0.0,
        smooth=0.0),
}
FLOAT32 = dict(epochs=26, decay_epochs=9.0)  # the default recipe without bfloat16 arithmetic (docs/speed.md)


def preset(name):
    """The Config of preset `name` for this machine: a value given as text where the field parses its flag's
    text ("auto") is parsed as that flag's would be; the default recipe in float32 takes FLOAT32's schedule."""
    parsers = {f.name: f.metadata["parse"] for f in dataclasses.fields(Config) if f.metadata["parse"]}
    config = dataclasses.replace(Config(), **{k: parsers[k](v) if k in parsers and isinstance(v, str) else v
                                              for k, v in PRESETS[name].items()})
    config = dataclasses.replace(config, **FLOAT32) if name == "default" and not config.mixed_precision else config
    return config.checked(f"preset {name}: ", "Correct PRESETS in utils/config.py")


def flag(name):
    return "--" + name.replace("_", "-")


def _parse_tuple(text):
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


def _parse_bool(text, auto=None):
    """True or false; where `auto` is given, also "auto", which is what auto() says for this machine."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    if auto is not None and text.lower() == "auto":
        return auto()
    raise argparse.ArgumentTypeError(f"expected true{', false or auto' if auto else ' or false'}, got {text!r}")


def refusal(value, kind, allowed, check):
    """What to use instead of `value` (None: it is allowed): a value of the field's `kind`, a finite number,
    and what `check` accepts, which `allowed` says in words."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # a whole number is a number
    if not isinstance(value, kind) or kind is int and isinstance(value, bool):
        return f"a value of the kind {kind.__name__}" + (f" ({allowed})" if allowed else "")
    if isinstance(value, float) and not math.isfinite(value):
        return f"a finite number ({allowed})" if allowed else "a finite number"
    if check is not None and not check(value):
        return allowed
    return None


def checked(parse, allowed, check):
    """An argparse type: `parse` the text, then refuse values that are not finite or that `check` rejects,
    saying what is `allowed`."""
    def parse_and_check(text):
        value = parse(text)
        wrong = refusal(value, type(value), allowed, check)
        if wrong:
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: use {wrong}")
        return value

    parse_and_check.__name__ = getattr(parse, "__name__", "value")  # argparse names the type in its messages
    return parse_and_check


def _checked(f):
    """argparse type of config field `f`."""
    kind = type(f.default)
    parse = f.metadata["parse"] or {tuple: _parse_tuple, bool: _parse_bool}.get(kind, kind)
    return checked(parse, f.metadata["allowed"], f.metadata["check"])


def add_config_flags(parser, group):
    """One `--flag` per config field of `group` ("model", "train" or "translate"); unset flags parse as None.

    A value the field does not allow stops the command with argparse's one-line error (exit code 2).
    """
    for f in dataclasses.fields(Config):
        if f.metadata["group"] != group:
            continue
        shown = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        if group == "translate":
            shown = f"the value saved with the models, {shown} unless set"
        parser.add_argument(flag(f.name), type=_checked(f), default=None,
                            help=f"{f.metadata['help']} (default: {shown})")


def given_flags(args, group):
    """{field: value} of every flag of `group` that the user gave."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
            if f.metadata["group"] == group and getattr(args, f.name, None) is not None}


def apply_flags(config, args, group):
    """The config with every flag of `group` that the user gave replacing its field."""
    return dataclasses.replace(config, **given_flags(args, group))


def config_path(model_dir):
    return os.path.join(model_dir, "config.json")
