import dataclasses
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils.config import PRESETS, preset  # noqa: E402

# A tiny XGAN: 32x32 images, few filters, so that every test runs in seconds on a CPU.
TINY_MODEL = dict(image_size=32, encoder_private_filters=(8, 16), encoder_shared_filters=(16,), embedding_dim=8,
                  decoder_shared_filters=(16, 8), decoder_private_filters=(8,), discriminator_filters=(4, 8, 8),
                  domain_classifier_units=8)
# The report's topology, as small (--preset report with these filters).
TINY_REPORT = dict(image_size=32, encoder_private_filters=(8, 16), encoder_shared_filters=(16, 32), embedding_dim=32,
                   decoder_shared_filters=(32, 16), decoder_private_filters=(16, 8), discriminator_filters=(4, 4, 4, 4),
                   domain_classifier_units=8)
# The same as model.py flags.
TINY_MODEL_FLAGS = [part for name, value in TINY_MODEL.items()
                    for part in ("--" + name.replace("_", "-"),
                                 ",".join(map(str, value)) if isinstance(value, tuple) else str(value))]


def tiny_preset(config, preset):
    """`config` with a preset's settings, at the tiny sizes."""
    return dataclasses.replace(config, **{**PRESETS[preset], **(TINY_REPORT if preset == "report" else TINY_MODEL)})


@pytest.fixture
def tiny_config(tmp_path):
    # --preset quick (the tests check that everything runs, not the long recipe's schedule);
    # XLA off: compiling takes longer than a tiny model's few steps (test_training checks the XLA step);
    # quality measure off: the tests that check it turn it on
    return dataclasses.replace(preset("quick"), **TINY_MODEL, batch_size=4, epochs=1, sample_count=3, jit_compile=False,
                               quality_every=0, quality_features="classifier",
                               data_dir=str(tmp_path / "data"), out=str(tmp_path / "run"))


def face_like(rng, height, width):
    """A smooth image: a coloured ellipse on a coloured background, like a face on a photo."""
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((yy - height / 2) / (height / 3)) ** 2 + ((xx - width / 2) / (width / 4)) ** 2 < 1
    image = np.where(inside[..., None], rng.integers(0, 256, 3), rng.integers(0, 256, 3))
    return image.astype(np.uint8)


def write_images(folder, count, height, width, seed, ext="png"):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        Image.fromarray(face_like(rng, height, width)).save(os.path.join(folder, f"{i:03d}.{ext}"))


@pytest.fixture
def tiny_data(tiny_config):
    """train1/ train2/ val1/ val2/ test1/ test2/ with a few generated images (real ones taller than wide, as
    CelebA's); 5 validation faces per domain, 3 test faces."""
    root = tiny_config.data_dir
    write_images(os.path.join(root, "train1"), 12, 44, 36, seed=1, ext="jpg")
    write_images(os.path.join(root, "train2"), 8, 32, 32, seed=2)
    write_images(os.path.join(root, "val1"), 5, 44, 36, seed=5, ext="jpg")
    write_images(os.path.join(root, "val2"), 5, 32, 32, seed=6)
    write_images(os.path.join(root, "test1"), 3, 44, 36, seed=3, ext="jpg")
    write_images(os.path.join(root, "test2"), 3, 32, 32, seed=4)
    return root


def assert_saved_moving_average(out, saved):
    """The saved autoencoders (which translate.py, app.py and export.py load) hold the moving average kept in
    the run's checkpoint, not the last weights the model trained with."""
    checkpoint = tf.train.load_checkpoint(os.path.join(out, "checkpoints"))
    for i, weight in enumerate(saved.xgan.get_weights()):
        average = checkpoint.get_tensor(f"average/averages/{i}/.ATTRIBUTES/VARIABLE_VALUE")
        np.testing.assert_array_equal(weight, average)
