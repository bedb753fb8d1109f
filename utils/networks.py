"""The XGAN's networks (report section 3, Royer et al. figure 2) and how they are saved.

Symbols: domain 1 = real faces, domain 2 = manga faces.
  encoder_d = shared_encoder o private_encoder_d        x_d   -> emb_d   (the shared embedding)
  decoder_d = private_decoder_d o shared_decoder        emb   -> image of domain d
  real->manga translation: decoder_manga(encoder_real(x_real)), and the other way round.
The shared parts are single Keras models called by both domains, so both use one set of weights.
"""
import os
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from utils.config import Config, config_path
from utils.layers import down, normalization, up

DOMAINS = ("real", "manga")
DIRECTIONS = {"real2manga": ("real", "manga"), "manga2real": ("manga", "real")}  # name: (source, target)
XGAN_FILE = "xgan.keras"
DISCRIMINATOR_FILE = "discriminator.keras"
DOMAIN_CLASSIFIER_FILE = "domain_classifier.keras"


OUT = "float32"


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
        # (bs, 8, 8, 128), (bs, 4, 4, 256)
        x = down(x, filters, config.kernel_size, config.norm, f"shared_down{i + 1}")
    if config.encoder_pool == "flatten":
        x = layers.Flatten(name="pool")(x)                                   # (bs, 4096)
    elif config.encoder_pool == "average":
        x = layers.GlobalAveragePooling2D(name="pool")(x)                    # (bs, 256)
    else:
        raise ValueError(f"unknown encoder_pool {config.encoder_pool!r}: use flatten or average")
    x = layers.Dense(config.embedding_dim, name="shared_dense")(x)
    x = layers.LeakyReLU(0.2, name="shared_dense_act")(x)
    x = layers.Dense(config.embedding_dim, name="embedding_dense")(x)       # (bs, 1024), linear, not softmax
    # On the unit sphere the embedding cannot grow without bound to fool the domain classifier.
    # Every network's output is float32 (OUT) even under mixed precision, so the losses are float32.
    x = layers.UnitNormalization(name="shared_embedding", dtype=OUT)(x)
    return keras.Model(inputs, x, name="shared_encoder")


def build_shared_decoder(config):
    start = config.image_size // 2 ** (len(config.decoder_shared_filters) + len(config.decoder_private_filters))
    x = inputs = keras.Input((config.embedding_dim,), name="embedding")
    first, *rest = config.decoder_shared_filters
    # The report's transposed conv from 1x1x1024 to 4x4x512 is exactly this dense layer; TensorFlow's
    # transposed conv of a 1x1 map made the whole training step 3x slower on a CPU.
    x = layers.Dense(start * start * first, use_bias=config.norm == "none", name="shared_up1_dense")(x)
    x = layers.Reshape((start, start, first), name="shared_up1_map")(x)     # (bs, 4, 4, 512)
    x = normalization(config.norm, "shared_up1_norm")(x)
    x = layers.ReLU(name="shared_up1_act")(x)
    for i, filters in enumerate(rest):
        x = up(x, filters, config.kernel_size, config.norm, f"shared_up{i + 2}")  # (bs, 8, 8, 256)
    return keras.Model(inputs, x, name="shared_decoder")


def build_private_decoder(config, domain):
    size = config.image_size // 2 ** (1 + len(config.decoder_private_filters))
    x = inputs = keras.Input((size, size, config.decoder_shared_filters[-1]), name="shared_features")
    for i, filters in enumerate(config.decoder_private_filters):
        # (bs, 16, 16, 128), (bs, 32, 32, 64)
        x = up(x, filters, config.kernel_size, config.norm, f"{domain}_up{i + 1}")
    # tanh: images live on [-1, 1] (the original code's ReLU could not output dark pixels).
    # Kernel 4, a multiple of the stride, so every output pixel gets the same number of taps: no
    # pixel-level checkerboard; on 64 -> 3 channels it costs little.
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh", name=f"{domain}_image",
                               dtype=OUT)(x)
    return keras.Model(inputs, x, name=f"private_decoder_{domain}")


def build_discriminator(config):
    """Real manga face or real->manga translation? Logits from the last 4x4 map.

    "pool" (the report's): average-pool the map, dense 1: one logit per image. "patch": dense 1 applied
    to each of the 4x4 positions (a 1x1 conv), so each patch is judged on its own; the losses average.
    """
    x = inputs = keras.Input((config.image_size, config.image_size, 3), name="x_manga")
    for i, filters in enumerate(config.discriminator_filters):
        x = layers.Conv2D(filters, config.kernel_size, strides=2, padding="same", name=f"disc_down{i + 1}_conv")(x)
        x = layers.LeakyReLU(0.2, name=f"disc_down{i + 1}_act")(x)         # down to (bs, 4, 4, 32)
    if config.discriminator_head == "pool":
        x = layers.GlobalAveragePooling2D(name="disc_pool")(x)
        x = layers.Dense(1, name="disc_logit", dtype=OUT)(x)                           # (bs, 1)
    elif config.discriminator_head == "patch":
        x = layers.Conv2D(1, 1, name="disc_patch_logits", dtype=OUT)(x)                # (bs, 4, 4, 1)
    else:
        raise ValueError(f"unknown discriminator_head {config.discriminator_head!r}: use pool or patch")
    return keras.Model(inputs, x, name="discriminator")


def build_domain_classifier(config):
    """Which domain did this embedding come from? One logit: > 0 means manga."""
    x = inputs = keras.Input((config.embedding_dim,), name="embedding")
    x = layers.Dense(config.domain_classifier_units, name="domain_hidden")(x)
    x = layers.LeakyReLU(0.2, name="domain_hidden_act")(x)
    x = layers.Dense(1, name="domain_logit", dtype=OUT)(x)
    return keras.Model(inputs, x, name="domain_classifier")


def build_xgan(config):
    """Both autoencoders in one model, so that saving keeps the shared parts shared."""
    factor = 2 ** (len(config.decoder_shared_filters) + len(config.decoder_private_filters))
    smallest_map = config.image_size // 2 ** (len(config.encoder_private_filters) + len(config.encoder_shared_filters))
    if config.image_size % factor or smallest_map < 1:
        raise ValueError(f"image_size {config.image_size} must be a multiple of {factor} for these filters")
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
    discriminator: keras.Model
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
        return keras.Sequential([self.encoder(source), self.decoder(target)], name=f"{source}2{target}")

    def save(self, model_dir):
        tf.io.gfile.makedirs(model_dir)
        self.xgan.save(os.path.join(model_dir, XGAN_FILE))
        self.discriminator.save(os.path.join(model_dir, DISCRIMINATOR_FILE))
        self.domain_classifier.save(os.path.join(model_dir, DOMAIN_CLASSIFIER_FILE))
        self.config.save(config_path(model_dir))


def build(config):
    keras.utils.set_random_seed(config.seed)
    return XGAN(build_xgan(config), build_discriminator(config), build_domain_classifier(config), config)


def rebuild(model):
    """The same networks and weights, built anew under the current dtype policy (mixed precision or not)."""
    fresh = build(model.config)
    for part in ("xgan", "discriminator", "domain_classifier"):
        getattr(fresh, part).set_weights(getattr(model, part).get_weights())
    return fresh


class ModelNotFoundError(FileNotFoundError):
    pass


def saved_config(model_dir, how_to_make):
    """The config saved beside the models in `model_dir`, read without building anything.

    `how_to_make` names the command that makes the models if they are missing.
    """
    paths = [os.path.join(model_dir, name) for name in (XGAN_FILE, DISCRIMINATOR_FILE, DOMAIN_CLASSIFIER_FILE)]
    missing = [p for p in paths + [config_path(model_dir)] if not tf.io.gfile.exists(p)]
    if missing:
        raise ModelNotFoundError(f"No saved model in {model_dir}/ (missing {', '.join(missing)}). "
                                 f"Run `{how_to_make}` first.")
    return Config.load(config_path(model_dir))


def load(model_dir, how_to_make):
    """The models saved in `model_dir` (see saved_config)."""
    config = saved_config(model_dir, how_to_make)
    xgan, discriminator, domain_classifier = (
        keras.models.load_model(os.path.join(model_dir, name), safe_mode=True)
        for name in (XGAN_FILE, DISCRIMINATOR_FILE, DOMAIN_CLASSIFIER_FILE))
    return XGAN(xgan, discriminator, domain_classifier, config)
