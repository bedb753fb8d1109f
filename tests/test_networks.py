import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_preset
from utils.config import PRESETS, Config
from utils.networks import DOMAINS, build, build_sharpener, build_smoother, check_topology, load


def test_report_preset_is_the_reports_topology():
    model = build(dataclasses.replace(Config(), **PRESETS["report"]))
    shapes = {layer.name: layer.output.shape[1:] for layer in model.xgan.layers}
    assert shapes["private_encoder_real"] == (16, 16, 64)          # conv 32 -> 64, private
    assert shapes["shared_encoder"] == (1024,)                      # conv 128 -> 256, pool, dense 1024 -> 1024, shared
    assert shapes["shared_decoder"] == (8, 8, 256)                  # 4x4x512 -> 8x8x256, shared
    assert shapes["private_decoder_manga"] == (64, 64, 3)           # 128 -> 64 -> 3, private
    assert list(model.discriminators) == ["manga"]                  # one discriminator, for manga faces
    conv_filters = [layer.filters for layer in model.discriminators["manga"].layers if hasattr(layer, "filters")]
    assert conv_filters[:4] == [16, 32, 32, 32]
    assert model.domain_classifier.input.shape[1:] == (1024,)


def test_default_topology_keeps_a_spatial_embedding():
    model = build(Config())
    shapes = {layer.name: layer.output.shape[1:] for layer in model.xgan.layers}
    assert shapes["shared_encoder"] == (8, 8, 64)                   # a unit vector at each of 8x8 positions
    assert shapes["private_decoder_real"] == (64, 64, 3)
    assert set(model.discriminators) == set(DOMAINS)


@pytest.mark.parametrize("preset", ["default", "report"])
def test_every_part_maps_the_right_shapes(tiny_config, preset):
    config = tiny_preset(tiny_config, preset)
    model = build(config)
    x = np.random.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    for domain in DOMAINS:
        emb = model.encoder(domain)(x)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)   # unit vectors
        assert model.decoder(domain)(emb).shape == (2, 32, 32, 3)
        assert model.autoencoder(domain)(x).shape == (2, 32, 32, 3)
    fake = model.translator("real", "manga")(x).numpy()
    assert fake.min() >= -1 and fake.max() <= 1                                  # tanh output, pixels on [-1, 1]
    assert model.domain_classifier(emb).shape[0] == 2


@pytest.mark.parametrize("head, logits_shape", [("pool", (2, 1)), ("patch", (2, 4, 4, 1))])
def test_discriminator_gives_one_logit_per_image_or_per_patch(tiny_config, head, logits_shape):
    model = build(dataclasses.replace(tiny_config, discriminator_head=head))
    assert model.discriminators["manga"](np.zeros((2, 32, 32, 3), np.float32)).shape == logits_shape


def test_image_sizes_the_topology_cannot_take_are_named():
    assert check_topology(Config()) is None
    assert "--image-size 60: must be a multiple of 8" in check_topology(dataclasses.replace(Config(), image_size=60))
    report = dataclasses.replace(Config(), **PRESETS["report"])
    assert check_topology(dataclasses.replace(report, image_size=72)).startswith("--image-size 72: must be a multiple of 16")
    assert "upsample as often" in check_topology(dataclasses.replace(Config(), decoder_private_filters=(32, 16)))


def _variable_ids(network):
    return {id(v) for v in network.variables}


@pytest.mark.parametrize("preset", ["default", "report"])
def test_both_domains_use_the_very_same_shared_variables(tiny_config, preset):
    config = tiny_preset(tiny_config, preset)
    model = build(config)
    shared = _variable_ids(model.xgan.get_layer("shared_encoder"))
    real, manga = _variable_ids(model.encoder("real")), _variable_ids(model.encoder("manga"))
    assert shared and shared <= real and shared <= manga and real & manga == shared   # only the shared part in common
    decoded = _variable_ids(model.decoder("real")) & _variable_ids(model.decoder("manga"))
    assert decoded == _variable_ids(model.xgan.get_layer("shared_decoder"))


def _step_through_real_changes_manga(model):
    """One gradient step on the real encoder's output; how much the manga encoder's output moved."""
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
    before = model.encoder("manga")(x, training=False).numpy()
    encoder = model.encoder("real")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(encoder(x, training=False) * tf.range(1.0, 9.0))  # any loss that moves the weights
    variables = encoder.trainable_variables
    tf.keras.optimizers.SGD(1.0).apply_gradients(zip(tape.gradient(loss, variables), variables))
    return float(np.abs(model.encoder("manga")(x, training=False).numpy() - before).max())


def test_a_step_through_one_domain_moves_what_the_other_computes(tiny_config, tmp_path):
    model = build(tiny_config)
    assert _step_through_real_changes_manga(model) > 1e-3
    build(tiny_config).save(tmp_path / "models")                        # and so after saving and loading
    assert _step_through_real_changes_manga(load(str(tmp_path / "models"), how_to_make="")) > 1e-3


def test_sharing_survives_save_and_load(tiny_config, tmp_path):
    model = build(tiny_config)
    model.save(tmp_path / "models")
    loaded = load(str(tmp_path / "models"), how_to_make="python model.py")
    assert loaded.config == tiny_config
    assert load(str(tmp_path / "models"), "python model.py", settings={"sharpen": 0.5}).config.sharpen == 0.5
    for a, b in zip(model.xgan.get_weights(), loaded.xgan.get_weights()):
        np.testing.assert_array_equal(a, b)
    shared = _variable_ids(loaded.xgan.get_layer("shared_encoder"))
    assert shared <= _variable_ids(loaded.encoder("real")) and shared <= _variable_ids(loaded.encoder("manga"))


def test_seed_fixes_the_initial_weights(tiny_config):
    a, b = build(tiny_config), build(tiny_config)
    c = build(dataclasses.replace(tiny_config, seed=1))
    np.testing.assert_array_equal(a.xgan.get_weights()[0], b.xgan.get_weights()[0])
    assert not np.array_equal(a.xgan.get_weights()[0], c.xgan.get_weights()[0])


def test_sharpener_steepens_edges_and_keeps_flat_areas(tiny_config):
    x = np.full((1, 32, 32, 3), -0.2, np.float32)
    x[:, :, 16:] = 0.4                                                            # a vertical edge
    sharpener = build_sharpener(dataclasses.replace(tiny_config, sharpen=1.0))
    y = sharpener(x).numpy()
    np.testing.assert_allclose(y[:, :, :12], x[:, :, :12], atol=1e-6)           # flat, borders included
    np.testing.assert_allclose(y[:, :, 20:], x[:, :, 20:], atol=1e-6)
    assert y[0, 0, 15, 0] < -0.2 - 0.1 and y[0, 0, 16, 0] > 0.4 + 0.1            # overshoot on both sides
    x[:, :, 16:] = 1.0
    assert sharpener(x).numpy().max() <= 1.0                                      # clipped to the pixel range


def test_translation_sharpens_photos_and_only_photos(tiny_config):
    tiny_config = dataclasses.replace(tiny_config, sharpen=0.75)
    model = build(tiny_config)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    plain = {(s, t): model.decoder(t)(model.encoder(s)(x)).numpy() for s, t in (("real", "manga"), ("manga", "real"))}
    sharpened = model.decoder("manga")(model.encoder("real")(build_sharpener(tiny_config)(x))).numpy()
    np.testing.assert_allclose(model.translator("real", "manga")(x).numpy(), sharpened, atol=1e-5)
    assert np.abs(sharpened - plain["real", "manga"]).max() > 1e-3
    np.testing.assert_allclose(model.translator("manga", "real")(x).numpy(), plain["manga", "real"], atol=1e-5)
    model.config = dataclasses.replace(tiny_config, sharpen=0.0)                  # off: the report's translation
    np.testing.assert_allclose(model.translator("real", "manga")(x).numpy(), plain["real", "manga"], atol=1e-5)


def test_smoother_takes_the_grain_off_flat_colour_and_keeps_outlines(tiny_config):
    rng = np.random.default_rng(3)
    x = np.full((2, 32, 32, 3), -0.2, np.float32)
    x[:, :, 16:] = 0.6                                                            # an outline: 102 levels
    grain = (rng.normal(0, 4, x.shape) / 127.5).astype(np.float32)                # grain of 4 levels
    smoother = build_smoother(dataclasses.replace(tiny_config, smooth=30.0))
    y = smoother(x + grain).numpy()
    np.testing.assert_allclose(smoother(x).numpy(), x, atol=1e-6)                 # flat areas and the edge kept
    assert np.abs(y - x).std() < 0.5 * grain.std()                                # the grain mostly gone
    assert y[:, :, 15].mean() < -0.15 and y[:, :, 16].mean() > 0.55                # the edge not blurred


def test_translation_smooths_manga_faces_and_only_manga_faces(tiny_config):
    model = build(dataclasses.replace(tiny_config, sharpen=0.0, smooth=30.0))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    plain = {(s, t): model.decoder(t)(model.encoder(s)(x)).numpy() for s, t in (("real", "manga"), ("manga", "real"))}
    smoothed = build_smoother(model.config)(plain["real", "manga"]).numpy()
    np.testing.assert_allclose(model.translator("real", "manga")(x).numpy(), smoothed, atol=1e-5)
    assert np.abs(smoothed - plain["real", "manga"]).max() > 1e-3
    np.testing.assert_allclose(model.translator("manga", "real")(x).numpy(), plain["manga", "real"], atol=1e-5)
