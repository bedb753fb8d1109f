"""export.py: the SavedModel and the .keras file serve the same images as the Keras model, without this repo."""
import dataclasses
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import face_like
from utils import images
from utils.export import export, uint8_translator
from utils.networks import build
from utils.translation import image_inputs

# Run in a clean interpreter, away from the repository, so that nothing of utils/ can be imported.
SERVE = """
import sys, numpy as np, tensorflow as tf, keras
x = np.load("x.npy")
served = tf.saved_model.load(sys.argv[1])     # kept in a name: its variables live as long as it does
np.save("saved_model.npy", served.serve(tf.constant(x)).numpy())
np.save("keras.npy", keras.models.load_model(sys.argv[2]).predict(x, verbose=0))
"""


@pytest.mark.parametrize("crop, sharpen, smooth", [(1.0, 0.0, 0.0), (0.75, 0.75, 30.0)])  # quick; with every layer
def test_exported_translators_match_the_keras_model(tiny_config, tmp_path, crop, sharpen, smooth):
    # a cut photo adds a layer, and sharpening and smoothing a few, which must reload too
    config = dataclasses.replace(tiny_config, real_crop=crop, sharpen=sharpen, smooth=smooth)
    model = build(config)
    export(model, str(tmp_path / "exported"))
    rng = np.random.default_rng(0)
    x = np.stack([face_like(rng, 109, 89) for _ in range(2)])         # any size (here CelebA's), not square
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run([sys.executable, "-I", "-c", SERVE, str(tmp_path / "exported" / "real2manga"),
                          str(tmp_path / "exported" / "real2manga.keras")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    served, from_keras_file = np.load(tmp_path / "saved_model.npy"), np.load(tmp_path / "keras.npy")
    expected = uint8_translator(model, "real", "manga")(x, training=False).numpy().astype(int)
    assert served.dtype == np.uint8 and served.shape == (2, 32, 32, 3)
    # Graph and eager execution may round a pixel the other way: at most 1 level of 255 apart.
    assert np.abs(served - expected).max() <= 1 and np.abs(from_keras_file - expected).max() <= 1

    # The same as translate.py's path (which crops with its own rounding): within a few levels.
    ours = images.to_uint8(model.translator("real", "manga")(np.stack(
        [image_inputs(image, "real", config)[0] for image in x]), training=False))
    # Unsharp masking, y = (1 + a) x - a blur(x), turns a pixel difference d into at most (1 + 2a) d.
    assert np.abs(ours.astype(int) - served.astype(int)).max() <= 8 * (1 + 2 * sharpen)


@pytest.mark.parametrize("crop", [1.0, 0.75])
def test_exported_translators_cut_the_photos_as_training_did(tiny_config, crop):
    """--real-crop is built in for the real faces (the manga faces are never cut): the exported model's input,
    before the network, is translate.py's within the half pixel that rounding size / crop to whole pixels moves."""
    config = dataclasses.replace(tiny_config, real_crop=crop)
    model = build(config)
    image = face_like(np.random.default_rng(0), 109, 89)   # CelebA's size; the ellipse's edge shows where the cut is
    for source, target in (("real", "manga"), ("manga", "real")):
        translator = uint8_translator(model, source, target)
        preprocess = keras.Model(translator.input, translator.get_layer("to_minus_one_one").output)
        exported = preprocess(image[None])[0].numpy()
        ours = image_inputs(image, source, config)[0].numpy()
        # measured: 0.016 at 0.75 (the crop ignored: 0.22), differing only along the ellipse's edge
        assert np.abs(exported - ours).mean() < 0.03, (source, crop)
