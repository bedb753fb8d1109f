"""The XGAN's loss terms (report section 3.2; Royer et al. section 3.1, equations 1-5).

Generator: L = w_rec L_rec + w_edge L_edge + w_d L_dann + w_align L_align + w_s L_sem + w_g L_gan + w_col L_col
    + w_sharp L_sharp.
Discriminator: its own L_disc.
Domain labels: real = 0, manga = 1. All means are over the batch, so terms do not grow with it.
"""
import tensorflow as tf

from utils.layers import reverse_gradient

DOMAIN_LABELS = {"real": 0, "manga": 1}


def _bce(logits, label):
    """Binary cross-entropy of logits (per image or per patch) against one label (0 or 1), averaged."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), float(label)), logits))


def reconstruction_loss(x, rec):
    """L_rec = |x_real - rec_real| + |x_manga - rec_manga|, mean over pixels: both autoencoders.

    `x`, `rec`: {domain: images}. L1 rather than the squared error: it blurs less where the autoencoder is unsure.
    """
    return sum(tf.reduce_mean(tf.abs(x[d] - rec[d])) for d in x)


def edge_loss(x, rec):
    """Gradient difference loss (Mathieu et al. 2016): | |dx| - |dx'| | between horizontal and vertical
    neighbours of each face and its reconstruction, mean over pixels, both autoencoders. L1 on pixels alone is
    met by a blur that gets every edge half right; this term asks for edges as strong as the face's."""
    def edges(a):
        return tf.abs(a[:, 1:, :] - a[:, :-1, :]), tf.abs(a[:, :, 1:] - a[:, :, :-1])

    return sum(tf.reduce_mean(tf.abs(e - e_rec)) for d in x for e, e_rec in zip(edges(x[d]), edges(rec[d])))


def blur(x, sigma=1.0):
    """Each channel blurred by a Gaussian of `sigma` pixels (5x5 taps), edges padded by reflection: a face as
    blurry as the translations the decoders draw before they learn to draw sharp (L_sharp's input)."""
    taps = tf.exp(-tf.square(tf.range(-2.0, 3.0)) / (2 * sigma ** 2))
    kernel = taps[:, None] * taps[None, :] / tf.square(tf.reduce_sum(taps))
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, x.shape[-1], 1])
    return tf.nn.depthwise_conv2d(tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], "REFLECT"), kernel, [1] * 4, "VALID")


def sharpening_loss(faces, drawn):
    """L_sharp: L1 and edges (as L_rec + L_edge) between faces and `drawn`, where drawn[d] is the decoder of d
    applied to the other domain's encoding of faces[d] blurred (`blur`). A supervised pair for the translation
    path into d: from a soft, painted-looking input (what the translations look like early) to a sharp face of
    d, which L_rec on its own domain's codes never asks of that path."""
    return reconstruction_loss(faces, drawn) + edge_loss(faces, drawn)


def chroma_loss(sources, translations, blocks=4):
    """L_col: L1 between the coarse chroma layout of each face and of its translation, both directions.

    `sources[d]` are the faces that became `translations[d]`. Chroma is each pixel's colour less its grey
    ((r, g, b) minus their mean), averaged over blocks x blocks blocks: the term keeps hair, skin and
    background hue where they are and asks nothing of brightness, shading or lines, which the translation
    must be free to redraw (on whole colours, as AnimeGAN's colour term, it copied the photo:
    docs/experiments.md f22, f23; on chroma it did not, h1).
    """
    def layout(a):
        a = a - tf.reduce_mean(a, axis=-1, keepdims=True)
        return tf.nn.avg_pool2d(a, a.shape[1] // blocks, a.shape[1] // blocks, "VALID")

    return sum(tf.reduce_mean(tf.abs(layout(sources[d]) - layout(translations[d]))) for d in translations)


def domain_adversarial_loss(domain_classifier, emb, w_d):
    """L_dann: cross-entropy of the domain classifier on both domains' embeddings (real = 0, manga = 1).

    The embeddings pass through a gradient reversal of scale w_d: minimizing this one term trains
    the classifier to tell the domains apart and the encoders (by -w_d times its gradient) to fool it.
    """
    return sum(_bce(domain_classifier(reverse_gradient(emb[d], w_d), training=True), DOMAIN_LABELS[d]) for d in emb)


def alignment_loss(emb):
    """L_align: the codes of both domains spread alike (Deep CORAL, Sun and Saenko 2016): the squared distance
    between the batch's mean photo code and mean manga code and between their covariances, each against the
    manga codes' own spread. A fresh classifier tells a trained model's photo codes from its manga codes every
    time though the run's classifier sits at chance, and the directions in which only photo codes vary are what
    the manga decoder draws as patches (docs/experiments.md cs1, al0). Every position's codes are pooled: a
    photo's forehead need not vary as manga hair does at the same place, and a batch of 16 faces gives 1,024
    codes, so sampling noise adds about a sixth of a trained model's gap (16 codes a position: five times it).
    Under tf.distribute the moments are the global batch's: each replica's sums are added up across replicas
    (all_reduce passes gradients back to every replica), so the loss does not depend on how the batch is split.
    """
    def moments(e):
        codes = tf.cast(tf.reshape(e, [-1, e.shape[-1]]), tf.float32)
        sums = [tf.reduce_sum(codes, 0), tf.matmul(codes, codes, transpose_a=True),
                tf.cast(tf.shape(codes)[0], tf.float32)]
        total, outer, count = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, sums)
        mean = total / count
        return mean, (outer - count * mean[:, None] * mean[None, :]) / (count - 1)

    (mean_real, cov_real), (mean_manga, cov_manga) = moments(emb["real"]), moments(emb["manga"])
    spread = tf.stop_gradient(tf.linalg.trace(cov_manga)) + 1e-6
    size = tf.stop_gradient(tf.reduce_sum(tf.square(cov_manga))) + 1e-12
    return (tf.reduce_sum(tf.square(mean_real - mean_manga)) / spread
            + tf.reduce_sum(tf.square(cov_real - cov_manga)) / size)


def semantic_loss(emb, emb_again):
    """L_sem: an embedding kept through translation, in both directions.

    emb_again["real"] = encoder_manga(decoder_manga(emb["real"])), and the other way round. Embeddings are
    unit vectors (one per face, or one per position of a map), so the distance is the cosine distance
    1 - <e, e'> on [0, 2], averaged over faces and positions.
    """
    return sum(tf.reduce_mean(1.0 - tf.reduce_sum(emb[d] * emb_again[d], axis=-1)) for d in emb)


def generator_gan_loss(logits_fake, kind):
    """L_gan: translations should be called real faces of their domain by its discriminator.

    kind: bce (the report's, non-saturating), lsgan (Mao et al. 2017) or hinge (Lim and Ye 2017, as in
    spectrally normalized GANs and BigGAN).
    """
    if kind == "hinge":
        return -tf.reduce_mean(logits_fake)
    if kind == "lsgan":
        return tf.reduce_mean(tf.square(logits_fake - 1.0))
    return _bce(logits_fake, 1)


def discriminator_loss(logits_real, logits_fake, kind):
    """L_disc: real faces of the domain are real, translations into it are fake (the report's code had these
    targets the wrong way round)."""
    if kind == "hinge":
        return tf.reduce_mean(tf.nn.relu(1.0 - logits_real)) + tf.reduce_mean(tf.nn.relu(1.0 + logits_fake))
    if kind == "lsgan":
        return tf.reduce_mean(tf.square(logits_real - 1.0)) + tf.reduce_mean(tf.square(logits_fake))
    return _bce(logits_real, 1) + _bce(logits_fake, 0)


def judge(discriminator, real, fake, r1):
    """(logits of real faces, logits of translations, R1 penalty) of one discriminator.

    R1 (Mescheder et al. 2018): r1 / 2 times the mean squared norm of the gradient of each real face's logit
    (the sum of its patch logits) with respect to the face. It keeps the discriminator smooth around real
    faces, so that the gradient it hands the generator is not the high-frequency pattern that a discriminator
    without it rewards (the speckle of the translations). On the sum, r1 = 1 over 8x8 patches weighs as much
    as r1 = 4096 on their mean: strong enough to remove the speckle (docs/experiments.md, t20-t24).
    r1 = 0: no penalty, one call on both batches.
    """
    if not r1:
        logits_real, logits_fake = tf.split(discriminator(tf.concat([real, fake], 0), training=True), 2)
        return logits_real, logits_fake, 0.0
    real = tf.convert_to_tensor(real)
    with tf.GradientTape() as tape:
        tape.watch(real)
        logits_real = discriminator(real, training=True)
        total = tf.reduce_sum(logits_real)
    slopes = tf.reduce_sum(tf.square(tape.gradient(total, real)), axis=[1, 2, 3])
    return logits_real, discriminator(fake, training=True), r1 / 2 * tf.reduce_mean(slopes)


def discriminator_accuracy(logits_real, logits_fake, kind):
    """Share of real faces and translations the discriminator tells right (logit above or below its midpoint)."""
    middle = 0.5 if kind == "lsgan" else 0.0
    correct = tf.concat([tf.reshape(tf.cast(logits_real > middle, tf.float32), [-1]),
                         tf.reshape(tf.cast(logits_fake <= middle, tf.float32), [-1])], 0)
    return tf.reduce_mean(correct)
