"""export.py: the SavedModel and the .keras file serve the same images as the Keras model, without this repo."""
import subprocess
import sys

import numpy as np

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


def test_exported_translators_match_the_keras_model(tiny_config, tmp_path):
    model = build(tiny_config)
    export(model, str(tmp_path / "exported"))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 50, 40, 3), dtype=np.uint8)          # any size, not square
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
        [image_inputs(image, "real", tiny_config)[0] for image in x]), training=False))
    assert np.abs(ours.astype(int) - served.astype(int)).max() <= 8
