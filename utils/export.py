"""Trained translators as self-contained models: uint8 images of any size in, uint8 images out.

The preprocessing of translate.py is built in with stock Keras layers (centred square, resize with
antialiasing, [-1, 1] scaling, and back to uint8), so that TF Serving, a web app or any Keras user can
run them without this repository's code.
"""
import os

import keras
from keras import layers

from utils.data import crop_for
from utils.networks import DIRECTIONS


def uint8_translator(model, source, target):
    config = model.config
    size, crop = config.image_size, crop_for(source, config)
    images = keras.Input((None, None, 3), dtype="uint8", name="images")
    # translate.py cuts the centred square of side crop * min(H, W) and resizes it to size. Stock layers say the
    # same the other way round: the centred square resized to size / crop, then its centred size x size, with
    # size / crop rounded to whole pixels (--real-crop 0.75 at 64: 85 pixels, a crop of 0.753 instead of 0.75).
    scaled = round(size / crop)
    x = layers.Resizing(scaled, scaled, crop_to_aspect_ratio=True, antialias=True, name="centred_square")(images)
    if scaled != size:
        x = layers.CenterCrop(size, size, name="crop")(x)
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_minus_one_one")(x)
    y = model.translator(source, target)(x, training=False)  # always inference: batch statistics of one image are noise
    y = layers.Rescaling(127.5, offset=128.0, name="to_0_255")(y)  # +0.5 so that the cast below rounds
    y = layers.Identity(dtype="uint8", name="to_uint8")(y)
    return keras.Model(images, y, name=f"{source}2{target}")


def export(model, out):
    """Write OUT/<source>2<target>.keras and the SavedModel OUT/<source>2<target>/ for both directions."""
    written = []
    for source, target in DIRECTIONS.values():
        translator = uint8_translator(model, source, target)
        keras_path, saved_model_dir = (os.path.join(out, f"{source}2{target}{ext}") for ext in (".keras", ""))
        os.makedirs(out, exist_ok=True)
        translator.save(keras_path)
        translator.export(saved_model_dir, verbose=False)  # serving signature "serve": uint8 [batch, H, W, 3]
        written += [keras_path, saved_model_dir]
    return written
