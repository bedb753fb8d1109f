"""Differentiable augmentation of what the discriminators see (DiffAugment, Zhao et al. 2020).

Real faces and translations are augmented alike, so the discriminator cannot learn the augmentations as
a sign of either, and the generator's gradient passes through them. Every random draw is stateless,
from (seed, step): a resumed run augments exactly as an uninterrupted one (XLA draws other numbers
from the same seed than a plain tf.function, so a run should keep its --jit-compile). Images are on [-1, 1].
"""
import tensorflow as tf


def _uniform(shape, seed, minval=0.0, maxval=1.0, dtype=tf.float32):
    return tf.random.stateless_uniform(shape, seed, minval=minval, maxval=maxval, dtype=dtype)


def color(x, seed):
    """Random brightness (+-0.5), saturation (x0 to x2) and contrast (x0.5 to x1.5) per image."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    n = tf.shape(x)[0]
    x = x + (_uniform([n, 1, 1, 1], seeds[0]) - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (_uniform([n, 1, 1, 1], seeds[1]) * 2) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (_uniform([n, 1, 1, 1], seeds[2]) + 0.5) + mean


def _grid(x):
    n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    return n, h, w, tf.range(h)[None, :, None], tf.range(w)[None, None, :]


def translation(x, seed, ratio=0.125):
    """Shift each image by up to `ratio` of its size in each direction, filling with zeros."""
    n, h, w, rows, cols = _grid(x)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _uniform([n, 1, 1], seeds[0], -shift_h, shift_h + 1, tf.int32)
    dx = _uniform([n, 1, 1], seeds[1], -shift_w, shift_w + 1, tf.int32)
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])        # index 0 and h + 1: the zeros shifted in
    y = tf.clip_by_value(rows + dy + 1, 0, h + 1)
    z = tf.clip_by_value(cols + dx + 1, 0, w + 1)
    batch = tf.broadcast_to(tf.range(n)[:, None, None], [n, h, w])
    return tf.gather_nd(padded, tf.stack([batch, tf.broadcast_to(y, [n, h, w]), tf.broadcast_to(z, [n, h, w])], -1))


def cutout(x, seed, ratio=0.5):
    """Zero a square of `ratio` of the image's size at a random place in each image."""
    n, h, w, rows, cols = _grid(x)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = _uniform([n, 1, 1], seeds[0], 0, h + 1 - size_h % 2, tf.int32) - size_h // 2
    left = _uniform([n, 1, 1], seeds[1], 0, w + 1 - size_w % 2, tf.int32) - size_w // 2
    inside = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
    return x * tf.cast(~inside, x.dtype)[..., None]


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


def augment(x, policy, seed):
    """`x` augmented by each of the comma-separated `policy` ("none": unchanged); `seed`: int32 [2]."""
    if policy == "none":
        return x
    names = policy.split(",")
    for name, part_seed in zip(names, tf.unstack(tf.random.experimental.stateless_split(seed, len(names)))):
        x = POLICIES[name](x, part_seed)
    return x
