import dataclasses

import numpy as np
import pytest

from utils.config import Config
from utils.networks import DOMAINS, build, load


def test_default_topology_is_the_reports():
    model = build(Config())
    shapes = {layer.name: layer.output.shape[1:] for layer in model.xgan.layers}
    assert shapes["private_encoder_real"] == (16, 16, 64)          # conv 32 -> 64, private
    assert shapes["shared_encoder"] == (1024,)                      # conv 128 -> 256, dense 1024 -> 1024, shared
    assert shapes["shared_decoder"] == (8, 8, 256)                  # 4x4x512 -> 8x8x256, shared
    assert shapes["private_decoder_manga"] == (64, 64, 3)           # 128 -> 64 -> 3, private
    conv_filters = [layer.filters for layer in model.discriminator.layers if hasattr(layer, "filters")]
    assert conv_filters[:4] == [16, 32, 32, 32]
    assert model.domain_classifier.input.shape[1:] == (1024,)


def test_every_part_maps_the_right_shapes(tiny_config):
    model = build(tiny_config)
    x = np.random.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    for domain in DOMAINS:
        emb = model.encoder(domain)(x)
        assert emb.shape == (2, 32)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)   # embeddings on the unit sphere
        assert model.decoder(domain)(emb).shape == (2, 32, 32, 3)
        assert model.autoencoder(domain)(x).shape == (2, 32, 32, 3)
    fake = model.translator("real", "manga")(x).numpy()
    assert fake.min() >= -1 and fake.max() <= 1                                  # tanh output, pixels on [-1, 1]
    assert model.domain_classifier(emb).shape == (2, 1)


@pytest.mark.parametrize("head, logits_shape", [("pool", (2, 1)), ("patch", (2, 2, 2, 1))])
def test_discriminator_gives_one_logit_per_image_or_per_patch(tiny_config, head, logits_shape):
    model = build(dataclasses.replace(tiny_config, discriminator_head=head))
    assert model.discriminator(np.zeros((2, 32, 32, 3), np.float32)).shape == logits_shape


def test_shared_parts_are_the_same_objects(tiny_config):
    model = build(tiny_config)
    assert model.encoder("real").layers[1] is model.encoder("manga").layers[1]
    assert model.decoder("real").layers[0] is model.decoder("manga").layers[0]
    assert model.encoder("real").layers[0] is not model.encoder("manga").layers[0]
    assert model.decoder("real").layers[1] is not model.decoder("manga").layers[1]


def _shared_weight_seen_by_both(model):
    """Change a shared weight through the real encoder; return how the manga encoder's copy changed."""
    through_real = model.encoder("real").get_layer("shared_encoder").get_layer("embedding_dense").kernel
    through_manga = model.encoder("manga").get_layer("shared_encoder").get_layer("embedding_dense").kernel
    before = through_manga.numpy().copy()
    through_real.assign(through_real + 1.0)
    return through_manga.numpy() - before


def test_sharing_survives_save_and_load(tiny_config, tmp_path):
    model = build(tiny_config)
    model.save(tmp_path / "models")
    loaded = load(str(tmp_path / "models"), how_to_make="python model.py")
    assert loaded.config == tiny_config
    for a, b in zip(model.xgan.get_weights(), loaded.xgan.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(_shared_weight_seen_by_both(loaded), 1.0)
    shared_count = len(loaded.xgan.get_layer("shared_encoder").weights)
    private_count = len(loaded.xgan.get_layer("private_encoder_real").weights)
    assert len(loaded.encoder("real").weights) == shared_count + private_count


def test_seed_fixes_the_initial_weights(tiny_config):
    a, b = build(tiny_config), build(tiny_config)
    c = build(dataclasses.replace(tiny_config, seed=1))
    np.testing.assert_array_equal(a.xgan.get_weights()[0], b.xgan.get_weights()[0])
    assert not np.array_equal(a.xgan.get_weights()[0], c.xgan.get_weights()[0])
