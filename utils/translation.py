"""Files in, translated PNG files out."""
import os

import numpy as np

from utils import data, images, reading
from utils.faces import crops


def model_inputs(path, domain, config, faces=None):
    """[(output stem, model input)] of one file: the whole image, or with `faces` (a FaceCropper) each face.

    An UnreadableImage says why there is none.
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    inputs = image_inputs(reading.read_rgb(path), domain, config, faces)
    return [(stem if faces is None else f"{stem}_face{i}", x) for i, x in enumerate(inputs, 1)]


def image_inputs(rgb, domain, config, faces=None):
    """Model inputs of uint8 pixels: the whole image, or with `faces` each face found (UnreadableImage if none)."""
    return [data.to_model_input(crop, data.crop_for(domain, config), config.image_size)
            for crop in crops(rgb, faces)]


def translate_files(model, source, target, paths, output, faces=None, batch_size=64, grid_width=10):
    """Translate `paths` from `source` to `target`; write OUTPUT/<stem>.png and OUTPUT/grid.png.

    With `faces`, each face of each file is translated, to OUTPUT/<stem>_faceN.png.
    Returns (written paths, [(unreadable path, reason)]).
    """
    names, inputs, failed = [], [], []
    for path in paths:
        try:
            for name, x in model_inputs(path, source, model.config, faces):
                names.append(name)
                inputs.append(x)
        except reading.UnreadableImage as error:
            failed.append((path, str(error)))
    if not names:
        return [], failed
    x = np.stack(inputs)
    y = model.translator(source, target).predict(x, batch_size=batch_size, verbose=0)
    written = [os.path.join(output, name + ".png") for name in names]
    for path, image in zip(written, y):
        images.save_png(image, path)
    images.save_png(images.pairs_grid(x, y, grid_width), os.path.join(output, "grid.png"))
    return written, failed
