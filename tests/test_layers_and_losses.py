import numpy as np
import pytest
import tensorflow as tf

from utils import losses
from utils.layers import reverse_gradient


def test_gradient_reversal_is_identity_forward_and_flips_backward():
    x = tf.constant([[1.0, -2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = reverse_gradient(x, 0.5)
        loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_array_equal(y, x)
    np.testing.assert_allclose(tape.gradient(loss, x), [[-0.5, -1.0, -1.5]])


def _unit(x):
    return tf.math.l2_normalize(tf.constant(x, tf.float32), axis=-1)


def test_every_loss_term_is_finite_and_non_negative():
    rng = np.random.default_rng(0)
    images = [tf.constant(rng.uniform(-1, 1, (2, 8, 8, 3)), tf.float32) for _ in range(4)]
    emb = [_unit(rng.normal(size=(2, 16))) for _ in range(4)]
    classifier = tf.keras.Sequential([tf.keras.Input((16,)), tf.keras.layers.Dense(1)])
    logits = tf.constant(rng.normal(size=(2, 1)), tf.float32)
    terms = [losses.reconstruction_loss(*images),
             losses.domain_adversarial_loss(classifier, emb[0], emb[1], 0.1),
             losses.semantic_loss(*emb),
             losses.generator_gan_loss(logits),
             losses.discriminator_loss(logits, -logits)]
    for value in terms:
        assert np.isfinite(value) and value >= 0


def test_loss_terms_vanish_where_they_should():
    x = tf.zeros((2, 8, 8, 3))
    e = _unit([[1.0, 0.0], [0.0, 1.0]])
    assert losses.reconstruction_loss(x, x, x, x) == 0
    assert float(losses.semantic_loss(e, e, e, e)) == pytest.approx(0, abs=1e-6)
    assert float(losses.semantic_loss(e, -e, e, -e)) == pytest.approx(4.0)         # opposite embeddings: the maximum


def test_discriminator_targets_real_manga_as_real_and_translations_as_fake():
    confident = tf.fill((4, 1), 10.0)
    assert losses.discriminator_loss(confident, -confident) < 1e-3            # right: manga real, translation fake
    assert losses.discriminator_loss(-confident, confident) > 10               # wrong way round: large
    assert losses.discriminator_accuracy(confident, -confident) == 1.0
    assert losses.generator_gan_loss(confident) < 1e-3                        # fooled discriminator: small L_gan


def test_domain_labels_differ_between_domains():
    classifier = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    classifier.layers[0].set_weights([np.array([[10.0], [-10.0]]), np.zeros(1)])
    real_like, manga_like = _unit([[0.0, 1.0]]), _unit([[1.0, 0.0]])
    assert losses.domain_adversarial_loss(classifier, real_like, manga_like, 1.0) < 1e-3
    assert losses.domain_adversarial_loss(classifier, manga_like, real_like, 1.0) > 10
