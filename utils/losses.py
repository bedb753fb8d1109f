"""The XGAN's loss terms (report section 3.2; Royer et al. section 3.1, equations 1-5).

Generator: L = w_rec L_rec + w_d L_dann + w_s L_sem + w_g L_gan. Discriminator: its own L_disc.
Domain labels: real = 0, manga = 1. All means are over the batch, so terms do not grow with it.
"""
import tensorflow as tf

from utils.layers import reverse_gradient


def _bce(logits, label):
    """Binary cross-entropy of logits (per image or per patch) against one label (0 or 1), averaged."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), float(label)), logits))


def reconstruction_loss(x_real, rec_real, x_manga, rec_manga):
    """L_rec = |x_real - rec_real| + |x_manga - rec_manga|, mean over pixels: both autoencoders.

    L1 rather than the squared error: it blurs less where the autoencoder is unsure.
    """
    return tf.reduce_mean(tf.abs(x_real - rec_real)) + tf.reduce_mean(tf.abs(x_manga - rec_manga))


def domain_adversarial_loss(domain_classifier, emb_real, emb_manga, w_d):
    """L_dann: cross-entropy of the domain classifier on both embeddings (real = 0, manga = 1).

    The embeddings pass through a gradient reversal of scale w_d: minimizing this one term trains
    the classifier to tell the domains apart and the encoders (by -w_d times its gradient) to fool it.
    """
    logits_real = domain_classifier(reverse_gradient(emb_real, w_d), training=True)
    logits_manga = domain_classifier(reverse_gradient(emb_manga, w_d), training=True)
    return _bce(logits_real, 0) + _bce(logits_manga, 1)


def semantic_loss(emb_real, emb_real_again, emb_manga, emb_manga_again):
    """L_sem: an embedding kept through translation, in both directions.

    emb_real_again = encoder_manga(decoder_manga(emb_real)), and the other way round. The embeddings are
    unit vectors, so the distance is the cosine distance 1 - <e, e'> on [0, 2].
    """
    def cosine_distance(a, b):
        return tf.reduce_mean(1.0 - tf.reduce_sum(a * b, axis=-1))

    return cosine_distance(emb_real, emb_real_again) + cosine_distance(emb_manga, emb_manga_again)


def generator_gan_loss(logits_fake_manga):
    """L_gan: real->manga translations should be called real manga by the discriminator."""
    return _bce(logits_fake_manga, 1)


def discriminator_loss(logits_manga, logits_fake_manga):
    """L_disc: real manga faces are real (1), real->manga translations are fake (0)."""
    return _bce(logits_manga, 1) + _bce(logits_fake_manga, 0)


def discriminator_accuracy(logits_manga, logits_fake_manga):
    correct = tf.concat([tf.cast(logits_manga > 0, tf.float32), tf.cast(logits_fake_manga <= 0, tf.float32)], 0)
    return tf.reduce_mean(correct)
