"""Files in, translated PNG files out."""
import os

import numpy as np
import tensorflow as tf

from utils import data, images


def read_for_model(path, domain, config):
    """One file as model input, or the reason it cannot be read."""
    try:
        return data.to_model_input(data.decode(path), data.crop_for(domain, config), config.image_size), None
    except (tf.errors.OpError, ValueError) as error:
        reason = getattr(error, "message", str(error)).strip().splitlines()[0]
        return None, reason or type(error).__name__


def translate_files(model, source, target, paths, output, batch_size=64, grid_width=10):
    """Translate `paths` from `source` to `target`; write OUTPUT/<stem>.png and OUTPUT/grid.png.

    Returns (written paths, [(unreadable path, reason)]).
    """
    good, inputs, failed = [], [], []
    for path in paths:
        if not os.path.isfile(path):
            failed.append((path, "no such file"))
            continue
        x, reason = read_for_model(path, source, model.config)
        if reason:
            failed.append((path, reason))
        else:
            good.append(path)
            inputs.append(x)
    if not good:
        return [], failed
    x = np.stack(inputs)
    y = model.translator(source, target).predict(x, batch_size=batch_size, verbose=0)
    os.makedirs(output, exist_ok=True)
    written = []
    for path, image in zip(good, y):
        written.append(os.path.join(output, os.path.splitext(os.path.basename(path))[0] + ".png"))
        images.save_png(image, written[-1])
    rows = [part[start:start + grid_width] for start in range(0, len(x), grid_width) for part in (x, y)]
    images.save_png(images.grid(rows), os.path.join(output, "grid.png"))
    return written, failed
