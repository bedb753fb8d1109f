import numpy as np
import pytest
import tensorflow as tf

from utils import losses
from utils.augment import augment
from utils.layers import jitter, reverse_gradient


def test_gradient_reversal_is_identity_forward_and_flips_backward():
    x = tf.constant([[1.0, -2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = reverse_gradient(x, 0.5)
        loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_array_equal(y, x)
    np.testing.assert_allclose(tape.gradient(loss, x), [[-0.5, -1.0, -1.5]])


def test_jitter_moves_each_code_a_little_and_keeps_it_unit_length():
    codes = tf.math.l2_normalize(tf.random.stateless_normal([4, 8, 8, 64], [0, 0]), axis=-1)
    seed = tf.constant([0, 7], tf.int64)
    assert jitter(codes, 0.0, seed) is codes
    moved = jitter(codes, 0.05, seed)
    np.testing.assert_allclose(tf.norm(moved, axis=-1), 1.0, rtol=1e-5)
    # noise of norm about 0.05 x 8 = 0.4 against a unit code: cosine about 1 / sqrt(1 + 0.16) = 0.93
    assert float(tf.reduce_mean(tf.reduce_sum(moved * codes, -1))) == pytest.approx(0.93, abs=0.02)
    np.testing.assert_array_equal(moved, jitter(codes, 0.05, seed))                # seeded
    assert not np.allclose(moved, jitter(codes, 0.05, seed + 1))


def _unit(x):
    return tf.math.l2_normalize(tf.constant(x, tf.float32), axis=-1)


def _pair(a, b):
    return {"real": a, "manga": b}


def test_every_loss_term_is_finite_and_the_non_adversarial_ones_non_negative():
    rng = np.random.default_rng(0)
    images = [tf.constant(rng.uniform(-1, 1, (2, 8, 8, 3)), tf.float32) for _ in range(4)]
    emb = [_unit(rng.normal(size=(2, 4, 4, 16))) for _ in range(4)]                 # a map embedding
    classifier = tf.keras.Sequential([tf.keras.Input((4, 4, 16)), tf.keras.layers.Conv2D(1, 1)])
    logits = tf.constant(rng.normal(size=(2, 4, 4, 1)), tf.float32)
    for value in (losses.reconstruction_loss(_pair(*images[:2]), _pair(*images[2:])),
                  losses.edge_loss(_pair(*images[:2]), _pair(*images[2:])),
                  losses.chroma_loss(_pair(*images[:2]), _pair(*images[2:])),
                  losses.domain_adversarial_loss(classifier, _pair(*emb[:2]), 0.1),
                  losses.semantic_loss(_pair(*emb[:2]), _pair(*emb[2:]))):
        assert np.isfinite(value) and value >= 0
    for kind in ("bce", "lsgan", "hinge"):
        assert np.isfinite(losses.generator_gan_loss(logits, kind))
        assert np.isfinite(losses.discriminator_loss(logits, -logits, kind)) and losses.discriminator_loss(
            logits, -logits, kind) >= 0


def test_loss_terms_vanish_where_they_should():
    x = tf.zeros((2, 8, 8, 3))
    e = _unit([[1.0, 0.0], [0.0, 1.0]])
    assert losses.reconstruction_loss(_pair(x, x), _pair(x, x)) == 0
    assert float(losses.semantic_loss(_pair(e, e), _pair(e, e))) == pytest.approx(0, abs=1e-6)
    assert float(losses.semantic_loss(_pair(e, e), _pair(-e, -e))) == pytest.approx(4.0)   # opposite: the maximum


def test_alignment_loss_measures_the_gap_between_the_domains_code_statistics():
    codes = tf.random.stateless_normal([512, 2, 2, 8], [0, 1])
    offset = tf.constant([0.5] + [0.0] * 7)
    # the same codes: no gap
    assert float(losses.alignment_loss(_pair(codes, codes))) == 0
    # shifted: covariances equal, the means 0.5 apart: 0.25 against the spread (about 8)
    shifted = float(losses.alignment_loss(_pair(codes + offset, codes)))
    trace = float(tf.linalg.trace(tf.matmul(tf.reshape(codes, [-1, 8]), tf.reshape(codes, [-1, 8]), transpose_a=True)
                                  / 2047))
    assert shifted == pytest.approx(0.25 / trace, rel=0.05)
    # spread twice as wide: the covariance term, about |3C|^2 / |C|^2 = 9
    assert float(losses.alignment_loss(_pair(2 * codes, codes))) == pytest.approx(9.0, rel=0.2)
    # measured against the manga codes' own spread: both domains scaled alike, the same figure
    scaled = float(losses.alignment_loss(_pair(3 * codes, 6 * codes)))
    assert scaled == pytest.approx(float(losses.alignment_loss(_pair(codes, 2 * codes))), rel=1e-4)
    assert scaled == pytest.approx(9.0 / 16, rel=0.2)                            # |C - 4C|^2 / |4C|^2


def test_edge_loss_asks_for_edges_not_for_brightness():
    # A checkerboard face: a blurred copy keeps its mean but loses its edges; a brighter copy keeps its edges.
    face = tf.constant(np.indices((8, 8)).sum(0) % 2 * 1.0 - 0.5, tf.float32)[None, :, :, None] * tf.ones((2, 1, 1, 3))
    blurred, brighter = tf.zeros_like(face), face + 0.6
    edge = lambda rec: float(losses.edge_loss(_pair(face, face), _pair(rec, rec)))  # noqa: E731
    assert edge(brighter) == pytest.approx(0, abs=1e-6) and edge(face) == 0 and edge(-face) == 0  # strength only
    assert edge(blurred) == pytest.approx(4.0)   # |1 - 0| for both directions and both domains
    assert float(losses.reconstruction_loss(_pair(face, face), _pair(blurred, blurred))) < float(
        losses.reconstruction_loss(_pair(face, face), _pair(brighter, brighter)))   # where L1 prefers the blur


def test_chroma_loss_keeps_hue_and_leaves_brightness_and_detail_free():
    rng = np.random.default_rng(0)
    face = tf.constant(rng.uniform(-1, 1, (2, 8, 8, 3)), tf.float32)
    grey = tf.reduce_mean(face, axis=-1, keepdims=True)
    chroma = lambda translation: float(losses.chroma_loss(_pair(face, face), _pair(translation, translation)))  # noqa: E731
    assert chroma(face + 0.5) == pytest.approx(0, abs=1e-6)            # brighter: same hue
    assert chroma(face + grey) == pytest.approx(0, abs=1e-6)           # shading redrawn: same hue
    blurred = tf.image.resize(tf.nn.avg_pool2d(face, 2, 2, "VALID"), (8, 8), "nearest")   # the 4x4 blocks' means
    assert chroma(blurred) == pytest.approx(0, abs=1e-6)                # detail within a block: free
    assert chroma(face[..., ::-1]) > 0.1                                 # red and blue swapped: asked back


def test_blur_keeps_flat_colour_and_softens_edges_and_the_sharpening_loss_asks_them_back():
    checker = tf.constant(np.indices((8, 8)).sum(0) % 2 * 1.0 - 0.5, tf.float32)[None, :, :, None] * tf.ones((2, 1, 1, 3))
    flat = tf.fill((2, 8, 8, 3), 0.3)
    np.testing.assert_allclose(losses.blur(flat), flat, atol=1e-6)
    assert float(tf.reduce_max(tf.abs(losses.blur(checker)))) < 0.2 * 0.5          # a pattern of period 2 mostly gone
    faces = _pair(checker, checker)
    assert losses.sharpening_loss(faces, faces) == 0
    assert losses.sharpening_loss(faces, _pair(losses.blur(checker), losses.blur(checker))) > 0.5


@pytest.mark.parametrize("kind", ["bce", "lsgan", "hinge"])
def test_discriminator_targets_real_faces_as_real_and_translations_as_fake(kind):
    confident = tf.fill((4, 1), 10.0) if kind != "lsgan" else tf.fill((4, 1), 1.0)
    fake = -confident if kind != "lsgan" else tf.zeros((4, 1))
    assert losses.discriminator_loss(confident, fake, kind) < 1e-3            # right: real real, translation fake
    assert losses.discriminator_loss(fake, confident, kind) > 1.0              # wrong way round: large
    assert losses.discriminator_accuracy(confident, fake, kind) == 1.0
    assert losses.discriminator_accuracy(fake, confident, kind) == 0.0
    # the generator's loss is lower when the discriminator calls its translations real
    assert losses.generator_gan_loss(confident, kind) < losses.generator_gan_loss(fake, kind)


def test_domain_labels_differ_between_domains():
    classifier = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    classifier.layers[0].set_weights([np.array([[10.0], [-10.0]]), np.zeros(1)])
    real_like, manga_like = _unit([[0.0, 1.0]]), _unit([[1.0, 0.0]])
    assert losses.domain_adversarial_loss(classifier, _pair(real_like, manga_like), 1.0) < 1e-3
    assert losses.domain_adversarial_loss(classifier, _pair(manga_like, real_like), 1.0) > 10


def test_augmentation_is_differentiable_seeded_and_changes_the_images():
    x = tf.random.stateless_uniform((4, 16, 16, 3), [1, 2], -1, 1)
    seed = tf.constant([0, 7], tf.int64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment(x, "color,translation,cutout", seed)
        total = tf.reduce_sum(y * y)
    assert y.shape == x.shape and not np.allclose(y, x)
    np.testing.assert_array_equal(y, augment(x, "color,translation,cutout", seed))      # same seed, same draw
    assert not np.allclose(y, augment(x, "color,translation,cutout", tf.constant([0, 8], tf.int64)))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(total, x)))) > 0
    cut = augment(tf.ones((4, 16, 16, 3)), "cutout", seed).numpy()
    zeroed = (cut == 0).mean(axis=(1, 2, 3))
    assert np.all(zeroed > 0) and np.all(zeroed <= 0.25)                    # a half-size square, partly outside at most
    assert augment(x, "none", seed) is x


def test_r1_penalty_is_half_the_squared_gradient_norm_on_real_faces():
    # A linear discriminator D(x) = <w, x>: its gradient is w for every face, so R1 = r1 / 2 |w|^2.
    discriminator = tf.keras.Sequential([tf.keras.Input((4, 4, 3)), tf.keras.layers.Flatten(),
                                         tf.keras.layers.Dense(1, use_bias=False)])
    w = discriminator.layers[-1].kernel
    real, fake = tf.random.normal((5, 4, 4, 3)), tf.random.normal((5, 4, 4, 3))
    logits_real, logits_fake, penalty = losses.judge(discriminator, real, fake, r1=2.0)
    assert float(penalty) == pytest.approx(float(tf.reduce_sum(w * w)), rel=1e-5)
    np.testing.assert_allclose(logits_real, discriminator(real), rtol=1e-6)
    np.testing.assert_allclose(logits_fake, discriminator(fake), rtol=1e-6)
    without = losses.judge(discriminator, real, fake, r1=0.0)
    assert without[2] == 0.0 and np.allclose(without[0], logits_real, atol=1e-6)
    with tf.GradientTape() as tape:                                   # the penalty trains the discriminator
        penalty = losses.judge(discriminator, real, fake, r1=2.0)[2]
    np.testing.assert_allclose(tape.gradient(penalty, w), 2.0 * w.numpy(), rtol=1e-5)
