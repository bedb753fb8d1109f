"""The XGAN's networks (report section 3, Royer et al. figure 2) and how they are saved.

Symbols: domain 1 = real faces, domain 2 = manga faces.
  encoder_d = shared_encoder o private_encoder_d        x_d   -> emb_d   (the shared embedding)
  decoder_d = private_decoder_d o shared_decoder        emb   -> image of domain d
  real->manga translation: decoder_manga(encoder_real(x_real)), and the other way round.
The shared parts are single Keras models called by both domains, so both use one set of weights.
"""
import os
from dataclasses import dataclass, replace

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from utils.config import Config, config_path
from utils.data import DOMAINS
from utils.layers import conv_norm_act, down, maybe_spectral, normalization, residual, up

DIRECTIONS = {"real2manga": ("real", "manga"), "manga2real": ("manga", "real")}  # name: (source, target)


OUT = "float32"


def sizes(config):
    """(size of the embedding map, size the shared decoder starts from, downsampling factor of the topology)."""
    down_factor = 2 ** (len(config.encoder_private_filters) + len(config.encoder_shared_filters))
    up_factor = 2 ** (len(config.decoder_shared_filters) + len(config.decoder_private_filters))
    return config.image_size // down_factor, config.image_size // up_factor, max(down_factor, up_factor)


def check_topology(config):
    """None if `config.image_size` fits the filters, else what to change (a map embedding is decoded at its
    own size, so encoder and decoder must halve and double as often)."""
    embedding_size, start, factor = sizes(config)
    if config.image_size % factor or embedding_size < 1 or start < 1:
        return f"--image-size {config.image_size}: must be a multiple of {factor} for these filters"
    if config.embedding == "map" and embedding_size != start:
        return (f"with --embedding map the decoders must upsample as often as the encoders downsample: "
                f"{len(config.encoder_private_filters) + len(config.encoder_shared_filters)} encoder layers, so "
                f"{len(config.decoder_shared_filters) + len(config.decoder_private_filters)} decoder filters "
                f"(--decoder-shared-filters, --decoder-private-filters) must be one more than that minus 1")
    return None


def build_private_encoder(config, domain):
    x = inputs = keras.Input((config.image_size, config.image_size, 3), name=f"x_{domain}")
    for i, filters in enumerate(config.encoder_private_filters):
        # (bs, 32, 32, 32), (bs, 16, 16, 64)
        x = down(x, filters, config.kernel_size, config.norm, f"{domain}_down{i + 1}")
    return keras.Model(inputs, x, name=f"private_encoder_{domain}")


def build_shared_encoder(config):
    size = config.image_size // 2 ** len(config.encoder_private_filters)
    x = inputs = keras.Input((size, size, config.encoder_private_filters[-1]), name="private_features")
    for i, filters in enumerate(config.encoder_shared_filters):
        # map: (bs, 8, 8, 128); the report's vector: (bs, 8, 8, 128), (bs, 4, 4, 256)
        x = down(x, filters, config.kernel_size, config.norm, f"shared_down{i + 1}")
    for i in range(config.residual_blocks):
        x = residual(x, config.kernel_size, config.norm, f"shared_encoder_res{i + 1}")
    if config.embedding == "map":
        # Each position a unit vector: the embedding keeps where hair, face and background are, and on the
        # sphere it cannot grow without bound to fool the domain classifier.
        x = layers.Conv2D(config.embedding_dim, 1, name="embedding_conv")(x)                  # (bs, 8, 8, 64)
        x = layers.UnitNormalization(axis=-1, name="shared_embedding", dtype=OUT)(x)
        return keras.Model(inputs, x, name="shared_encoder")
    if config.encoder_pool == "flatten":
        x = layers.Flatten(name="pool")(x)                                   # (bs, 4096)
    else:
        x = layers.GlobalAveragePooling2D(name="pool")(x)                    # (bs, 256)
    x = layers.Dense(config.embedding_dim, name="shared_dense")(x)
    x = layers.LeakyReLU(0.2, name="shared_dense_act")(x)
    x = layers.Dense(config.embedding_dim, name="embedding_dense")(x)       # (bs, 1024), linear, not softmax
    # Every network's output is float32 (OUT) even under mixed precision, so the losses are float32.
    x = layers.UnitNormalization(name="shared_embedding", dtype=OUT)(x)
    return keras.Model(inputs, x, name="shared_encoder")


def embedding_shape(config):
    size = sizes(config)[0]
    return (size, size, config.embedding_dim) if config.embedding == "map" else (config.embedding_dim,)


def build_shared_decoder(config):
    start = sizes(config)[1]
    x = inputs = keras.Input(embedding_shape(config), name="embedding")
    first, *rest = config.decoder_shared_filters
    if config.embedding == "map":
        x = conv_norm_act(x, first, config.kernel_size, config.norm, "shared_up1")          # (bs, 8, 8, 128)
    else:
        # The report's transposed conv from 1x1x1024 to 4x4x512 is exactly this dense layer; TensorFlow's
        # transposed conv of a 1x1 map made the whole training step 3x slower on a CPU.
        x = layers.Dense(start * start * first, use_bias=config.norm == "none", name="shared_up1_dense")(x)
        x = layers.Reshape((start, start, first), name="shared_up1_map")(x)     # (bs, 4, 4, 512)
        x = normalization(config.norm, "shared_up1_norm")(x)
        x = layers.ReLU(name="shared_up1_act")(x)
    for i in range(config.residual_blocks):
        x = residual(x, config.kernel_size, config.norm, f"shared_decoder_res{i + 1}")
    for i, filters in enumerate(rest):
        x = up(x, filters, config.kernel_size, config.norm, f"shared_up{i + 2}", config.upsample)  # (bs, 16, 16, 64)
    return keras.Model(inputs, x, name="shared_decoder")


def build_private_decoder(config, domain):
    size = config.image_size // 2 ** (1 + len(config.decoder_private_filters))
    x = inputs = keras.Input((size, size, config.decoder_shared_filters[-1]), name="shared_features")
    for i, filters in enumerate(config.decoder_private_filters):
        # (bs, 32, 32, 32); the report's: (bs, 16, 16, 128), (bs, 32, 32, 64)
        x = up(x, filters, config.kernel_size, config.norm, f"{domain}_up{i + 1}", config.upsample)
    # tanh: images live on [-1, 1] (the original code's ReLU could not output dark pixels).
    if config.upsample == "transposed":
        # Kernel 4, a multiple of the stride, so every output pixel gets the same number of taps.
        x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh", name=f"{domain}_image",
                                   dtype=OUT)(x)
    else:
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"{domain}_image_upsample")(x)
        x = layers.Conv2D(3, config.kernel_size, padding="same", activation="tanh", name=f"{domain}_image",
                          dtype=OUT)(x)
    return keras.Model(inputs, x, name=f"private_decoder_{domain}")


def build_sharpener(config):
    """Unsharp masking of the photos that translation applies before the real encoder: x + a * (x - blur(x)),
    a = config.sharpen, clipped to [-1, 1]; blur: a 3x3 box mean twice (a [1, 2, 3, 2, 1] / 9 kernel each way),
    at the border the mean of the pixels inside. Stock layers, so exported translators need none of this code."""
    x = inputs = keras.Input((config.image_size, config.image_size, 3), name="photo")
    blurred = x
    for i in range(2):
        blurred = layers.AveragePooling2D(3, strides=1, padding="same", name=f"sharpen_box{i + 1}", dtype=OUT)(blurred)
    detail = layers.Rescaling(config.sharpen, name="sharpen_amount", dtype=OUT)(
        layers.Subtract(name="sharpen_detail", dtype=OUT)([x, blurred]))
    x = layers.Add(name="sharpen_add", dtype=OUT)([x, detail])
    x = layers.Rescaling(1.0, offset=1.0, name="sharpen_shift", dtype=OUT)(x)  # clip to [-1, 1] as ReLU to [0, 2]
    x = layers.ReLU(max_value=2.0, name="sharpen_clip", dtype=OUT)(x)
    x = layers.Rescaling(1.0, offset=-1.0, name="sharpen_unshift", dtype=OUT)(x)
    return keras.Model(inputs, x, name="sharpener")


SMOOTH_OFFSETS = tuple((dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if dy * dy + dx * dx <= 4)
SMOOTH_SPACE = 3.0  # the spatial sigma in pixels: within the 13-pixel disc, colour alone decides


def _fixed_conv(name, kernel, bias=None, depthwise=False):
    """A convolution that is not trained, with `kernel` (kh, kw, in, out; depthwise: kh, kw, in, multiplier)
    and `bias`: returns (layer, its weights), to be set once the layer is built."""
    options = dict(padding="same", use_bias=bias is not None, trainable=False, name=name, dtype=OUT)
    layer = (layers.DepthwiseConv2D(kernel.shape[:2], depth_multiplier=kernel.shape[3], **options) if depthwise
             else layers.Conv2D(kernel.shape[3], kernel.shape[:2], **options))
    return layer, [kernel] + ([bias] if bias is not None else [])


def build_smoother(config):
    """Edge-preserving smoothing of the manga faces that translation draws (a bilateral filter, Tomasi and
    Manduchi 1998): each pixel becomes the mean of the 13 pixels within 2 of it, each weighed by
    exp(-|colour difference|^2 / (2 s^2) - distance^2 / (2 * 3^2)), s = config.smooth 8-bit levels. It takes
    the grain off flat colour and keeps outlines (docs/findings.md). Stock layers with fixed weights, so
    exported translators need none of this code: one-hot depthwise kernels shift, 1x1 convolutions sum, and
    a softmax over the offsets normalizes the weights; pixels beyond the border get none."""
    k, sigma = len(SMOOTH_OFFSETS), config.smooth / 127.5
    one_hot = np.zeros((5, 5, 1, k), "float32")
    for i, (dy, dx) in enumerate(SMOOTH_OFFSETS):
        one_hot[2 + dy, 2 + dx, 0, i] = 1
    colour_sum = np.zeros((1, 1, 3 * k, k), "float32")  # channel c * k + i -> offset i
    for c in range(3):
        colour_sum[0, 0, c * k + np.arange(k), np.arange(k)] = 1
    distance = np.array([dy * dy + dx * dx for dy, dx in SMOOTH_OFFSETS], "float32")
    fixed = {  # name: (layer, weights)
        "shift": _fixed_conv("smooth_shift", np.tile(one_hot, (1, 1, 3, 1)), depthwise=True),
        "repeat": _fixed_conv("smooth_repeat", np.ones((1, 1, 3, k), "float32"), depthwise=True),
        "logits": _fixed_conv("smooth_logits", -colour_sum / (2 * sigma ** 2), -distance / (2 * SMOOTH_SPACE ** 2)),
        "inside": _fixed_conv("smooth_inside", np.concatenate([one_hot, 0 * one_hot, 0 * one_hot], 2)),
        "spread": _fixed_conv("smooth_spread", colour_sum.transpose(0, 1, 3, 2)),
        "sum": _fixed_conv("smooth_sum", np.kron(np.eye(3, dtype="float32"), np.ones((k, 1), "float32"))[None, None]),
    }
    layer = {name: pair[0] for name, pair in fixed.items()}
    x = inputs = keras.Input((config.image_size, config.image_size, 3), name="translation")
    shifted = layer["shift"](x)  # (n, h, w, 3 * k): channel c * k + i holds colour c at offset i
    difference = layers.Subtract(name="smooth_difference", dtype=OUT)([shifted, layer["repeat"](x)])
    logits = layer["logits"](layers.Multiply(name="smooth_squared", dtype=OUT)([difference, difference]))
    inside = layer["inside"](layers.Rescaling(0.0, offset=1.0, name="smooth_ones", dtype=OUT)(x))
    beyond = layers.Rescaling(1e4, offset=-1e4, name="smooth_beyond", dtype=OUT)(inside)  # 0 inside, -1e4 beyond
    weights = layers.Softmax(name="smooth_weights", dtype=OUT)(layers.Add(name="smooth_masked", dtype=OUT)(
        [logits, beyond]))
    y = layer["sum"](layers.Multiply(name="smooth_weighted", dtype=OUT)([shifted, layer["spread"](weights)]))
    smoother = keras.Model(inputs, y, name="smoother")
    for network_layer, weights_of in fixed.values():
        network_layer.set_weights(weights_of)
    return smoother


def build_discriminator(config, domain):
    """Real face of `domain`, or a translation into it? Logits from the last map.

    "pool" (the report's): average-pool the map, dense 1: one logit per image. "patch": dense 1 applied
    to each position (a 1x1 conv), so each patch is judged on its own; the losses average.
    """
    x = inputs = keras.Input((config.image_size, config.image_size, 3), name=f"x_{domain}")
    if config.discriminator_stem:
        conv = layers.Conv2D(config.discriminator_stem, config.kernel_size, padding="same", name="disc_stem_conv")
        x = layers.LeakyReLU(0.2, name="disc_stem_act")(maybe_spectral(conv, config.spectral_norm)(x))  # (bs, 64, 64, 16)
    for i, filters in enumerate(config.discriminator_filters):
        conv = layers.Conv2D(filters, config.kernel_size, strides=2, padding="same", name=f"disc_down{i + 1}_conv")
        x = maybe_spectral(conv, config.spectral_norm)(x)
        x = layers.LeakyReLU(0.2, name=f"disc_down{i + 1}_act")(x)         # down to (bs, 8, 8, 256)
    if config.discriminator_head == "pool":
        x = layers.GlobalAveragePooling2D(name="disc_pool")(x)
        x = maybe_spectral(layers.Dense(1, name="disc_logit"), config.spectral_norm)(x)          # (bs, 1)
    else:
        x = maybe_spectral(layers.Conv2D(1, 1, name="disc_patch_logits"), config.spectral_norm)(x)  # (bs, 8, 8, 1)
    x = layers.Activation("linear", name="disc_out", dtype=OUT)(x)
    return keras.Model(inputs, x, name=f"discriminator_{domain}")


def build_domain_classifier(config):
    """Which domain did this embedding come from? One logit per face, > 0 meaning manga.

    On a map it looks at the whole map (two convs, then a dense layer on all positions), so that what is
    aligned through the gradient reversal is how codes sit together, not only each position's code.
    """
    x = inputs = keras.Input(embedding_shape(config), name="embedding")
    if config.embedding == "map":
        for i, strides in enumerate((1, 2)):
            x = layers.Conv2D(config.domain_classifier_units, 3, strides=strides, padding="same",
                              name=f"domain_conv{i + 1}")(x)
            x = layers.LeakyReLU(0.2, name=f"domain_conv{i + 1}_act")(x)                    # (bs, 4, 4, 128)
        x = layers.Flatten(name="domain_flatten")(x)
    else:
        x = layers.Dense(config.domain_classifier_units, name="domain_hidden")(x)
        x = layers.LeakyReLU(0.2, name="domain_hidden_act")(x)
    x = layers.Dense(1, name="domain_logit", dtype=OUT)(x)                                    # (bs, 1)
    return keras.Model(inputs, x, name="domain_classifier")


def chosen_domains(choice):
    """The domains a "manga" or "both" flag names."""
    return DOMAINS if choice == "both" else ("manga",)


def gan_domains(config):
    """The domains whose translations a discriminator judges."""
    return chosen_domains(config.discriminators)


def build_xgan(config):
    """Both autoencoders in one model, so that saving keeps the shared parts shared."""
    problem = check_topology(config)
    if problem:
        raise ValueError(problem)
    shared_encoder, shared_decoder = build_shared_encoder(config), build_shared_decoder(config)
    inputs, outputs = [], []
    for domain in DOMAINS:
        x = keras.Input((config.image_size, config.image_size, 3), name=f"x_{domain}")
        emb = shared_encoder(build_private_encoder(config, domain)(x))
        outputs.append(build_private_decoder(config, domain)(shared_decoder(emb)))
        inputs.append(x)
    return keras.Model(inputs, outputs, name="xgan")


@dataclass
class XGAN:
    """The trained parts under the names the losses use; `xgan` holds all autoencoder weights."""
    xgan: keras.Model
    discriminators: dict      # {domain: discriminator}, for the domains of gan_domains(config)
    domain_classifier: keras.Model
    config: Config

    def encoder(self, domain):
        return keras.Sequential([self.xgan.get_layer(f"private_encoder_{domain}"),
                                 self.xgan.get_layer("shared_encoder")], name=f"encoder_{domain}")

    def decoder(self, domain):
        return keras.Sequential([self.xgan.get_layer("shared_decoder"),
                                 self.xgan.get_layer(f"private_decoder_{domain}")], name=f"decoder_{domain}")

    def autoencoder(self, domain):
        return keras.Sequential([self.encoder(domain), self.decoder(domain)], name=f"autoencoder_{domain}")

    def translator(self, source, target):
        """source faces in, target faces out, as every translation is made: photos sharpened first, manga faces
        smoothed after."""
        sharpen = [build_sharpener(self.config)] if source == "real" and self.config.sharpen else []
        smooth = [build_smoother(self.config)] if target == "manga" and self.config.smooth else []
        return keras.Sequential([*sharpen, self.encoder(source), self.decoder(target), *smooth],
                                name=f"{source}2{target}")

    def parts(self):
        """{file stem: network} of every trained network."""
        return {"xgan": self.xgan, "domain_classifier": self.domain_classifier,
                **{f"discriminator_{d}": network for d, network in self.discriminators.items()}}

    def save(self, model_dir):
        tf.io.gfile.makedirs(model_dir)
        for stem, network in self.parts().items():
            network.save(os.path.join(model_dir, stem + ".keras"))
        self.config.save(config_path(model_dir))


def build(config):
    keras.utils.set_random_seed(config.seed)
    return XGAN(build_xgan(config), {d: build_discriminator(config, d) for d in gan_domains(config)},
                build_domain_classifier(config), config)


def rebuild(model):
    """The same networks and weights, built anew under the current dtype policy (mixed precision or not)."""
    fresh = build(model.config)
    for stem, network in fresh.parts().items():
        network.set_weights(model.parts()[stem].get_weights())
    return fresh


def part_files(config):
    return ["xgan.keras", "domain_classifier.keras"] + [f"discriminator_{d}.keras" for d in gan_domains(config)]


class ModelNotFoundError(FileNotFoundError):
    pass


def saved_config(model_dir, how_to_make):
    """The config saved beside the models in `model_dir`, read without building anything.

    `how_to_make` names the command that makes the models if they are missing.
    """
    def missing(paths):
        return [p for p in paths if not tf.io.gfile.exists(p)]

    def refuse(absent):
        raise ModelNotFoundError(f"No saved model in {model_dir}/ (missing {', '.join(absent)}). "
                                 f"Run `{how_to_make}` first.")

    if missing([config_path(model_dir)]):
        refuse(missing([config_path(model_dir), os.path.join(model_dir, "xgan.keras")]))
    config = Config.load(config_path(model_dir))
    absent = missing([os.path.join(model_dir, name) for name in part_files(config)])
    if absent:
        refuse(absent)
    return config


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(ROOT, "pretrained")  # the shipped model: pretrained/README.md
RUN_MODELS = "runs/xgan/models"                # where the default run saves its trained models


def add_models_flag(parser):
    parser.add_argument("--models", help=f"trained models, as train.py saved them; pretrained: the shipped model "
                                         f"(default: {RUN_MODELS}, or pretrained while that holds none)")


def load_trained(models, settings=None, log=print):
    """(models, their folder) of a --models flag: its folder (pretrained: the shipped model's), else the default
    run's, else the shipped model, which the log names. `settings`: as load's."""
    if models is None and not tf.io.gfile.exists(config_path(RUN_MODELS)):
        log(f"no trained models in {RUN_MODELS}/ yet: using the shipped model in pretrained/ (its card: "
            f"pretrained/README.md; python train.py trains your own)")
        models = PRETRAINED
    elif models in ("pretrained", "pretrained/"):
        models = PRETRAINED
    models = models or RUN_MODELS
    return load(models, how_to_make="python train.py", settings=settings), models


def describe(model_dir):
    """Which model a folder holds, in words for a page or a log."""
    if os.path.realpath(model_dir) == os.path.realpath(PRETRAINED):
        return "the shipped model (pretrained/)"
    return f"your model in {model_dir}/"


def load(model_dir, how_to_make, settings=None):
    """The models saved in `model_dir` (see saved_config); `settings`: {field: value} of translation settings
    that replace the saved ones (the "translate" flags the user gave)."""
    config = replace(saved_config(model_dir, how_to_make), **(settings or {}))
    networks = {os.path.splitext(name)[0]: keras.models.load_model(os.path.join(model_dir, name), safe_mode=True)
                for name in part_files(config)}
    discriminators = {d: networks[f"discriminator_{d}"] for d in gan_domains(config)}
    return XGAN(networks["xgan"], discriminators, networks["domain_classifier"], config)
