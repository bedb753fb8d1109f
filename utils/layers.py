"""Building blocks of the networks, and the gradient reversal of the domain-adversarial loss."""
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


def down(x, filters, kernel, norm, name):
    """Halve height and width: conv with stride 2, normalization, LeakyReLU."""
    x = layers.Conv2D(filters, kernel, strides=2, padding="same", use_bias=norm == "none", name=f"{name}_conv")(x)
    x = normalization(norm, f"{name}_norm")(x)
    return layers.LeakyReLU(0.2, name=f"{name}_act")(x)


def up(x, filters, kernel, norm, name):
    """Double height and width: transposed conv with stride 2, normalization, ReLU."""
    x = layers.Conv2DTranspose(filters, kernel, strides=2, padding="same",
                               use_bias=norm == "none", name=f"{name}_deconv")(x)
    x = normalization(norm, f"{name}_norm")(x)
    return layers.ReLU(name=f"{name}_act")(x)


def reverse_gradient(x, scale):
    """Identity forward; the gradient multiplied by -scale backward (Ganin and Lempitsky's GRL).

    Through it the domain classifier learns to tell the domains apart while the encoders,
    getting the reversed gradient, learn to make their embeddings indistinguishable.
    """
    @tf.custom_gradient
    def _reverse(x):
        return tf.identity(x), lambda dy: -scale * dy

    return _reverse(x)
