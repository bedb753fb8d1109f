"""Building blocks of the networks, the gradient reversal of the domain-adversarial loss, and the noise the
decoders see on the embedding in training."""
import tensorflow as tf
from keras import layers


def normalization(norm, name):
    if norm == "batch":
        # momentum 0.9: test-time statistics keep up with a run of only a few hundred steps;
        # synchronized: under tf.distribute the statistics are those of the global batch, as on one device
        return layers.BatchNormalization(momentum=0.9, synchronized=True, name=name)
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, name=name)
    if norm == "none":
        return layers.Identity(name=name)
    raise ValueError(f"unknown norm {norm!r}: use batch, instance or none")


def conv_norm_act(x, filters, kernel, norm, name, strides=1, act="relu"):
    """conv, normalization, then ReLU or LeakyReLU (0.2)."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=norm == "none",
                      name=f"{name}_conv")(x)
    x = normalization(norm, f"{name}_norm")(x)
    return layers.LeakyReLU(0.2, name=f"{name}_act")(x) if act == "leaky" else layers.ReLU(name=f"{name}_act")(x)


def down(x, filters, kernel, norm, name):
    """Halve height and width: conv with stride 2, normalization, LeakyReLU."""
    return conv_norm_act(x, filters, kernel, norm, name, strides=2, act="leaky")


def up(x, filters, kernel, norm, name, upsample):
    """Double height and width, normalization, ReLU.

    upsample "transposed" (the report's): a transposed conv with stride 2, which with a kernel that is not a
    multiple of the stride gives some output pixels more taps than others: a checkerboard (Odena et al. 2016).
    "nearest": nearest-neighbour upsampling, then a conv: every output pixel gets the same taps.
    """
    if upsample == "transposed":
        x = layers.Conv2DTranspose(filters, kernel, strides=2, padding="same",
                                   use_bias=norm == "none", name=f"{name}_deconv")(x)
        x = normalization(norm, f"{name}_norm")(x)
        return layers.ReLU(name=f"{name}_act")(x)
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample")(x)
    return conv_norm_act(x, filters, kernel, norm, name)


def residual(x, kernel, norm, name):
    """x + conv(ReLU(norm(conv(x)))), normalized: more depth at the smallest map, where it is cheap."""
    filters = x.shape[-1]
    y = conv_norm_act(x, filters, kernel, norm, f"{name}_a")
    y = layers.Conv2D(filters, kernel, padding="same", use_bias=norm == "none", name=f"{name}_b_conv")(y)
    y = normalization(norm, f"{name}_b_norm")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def maybe_spectral(layer, enabled):
    """The layer with spectral normalization of its kernel (Miyato et al. 2018), or as it is."""
    return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if enabled else layer


def reverse_gradient(x, scale):
    """Identity forward; the gradient multiplied by -scale backward (Ganin and Lempitsky's GRL).

    Through it the domain classifier learns to tell the domains apart while the encoders,
    getting the reversed gradient, learn to make their embeddings indistinguishable.
    """
    @tf.custom_gradient
    def _reverse(x):
        return tf.identity(x), lambda dy: -scale * dy

    return _reverse(x)


def jitter(emb, sigma, seed):
    """Each unit-length code (a map's positions, or the vector) moved by Gaussian noise of `sigma` per component
    and scaled back to unit length: a denoising autoencoder's corruption (sigma 0: `emb` as it is).

    Decoders trained on nearby codes draw the same face from them, so the fine variation that a photo's skin
    texture leaves in its codes need not be drawn (the mottled patches, docs/findings.md).
    """
    if not sigma:
        return emb
    return tf.math.l2_normalize(emb + tf.random.stateless_normal(tf.shape(emb), seed, stddev=sigma, dtype=emb.dtype),
                                axis=-1)
