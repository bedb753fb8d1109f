"""Files in, translated PNG files out."""
import collections
import os

import numpy as np

from utils import data, images, reading
from utils.data import DataError
from utils.faces import crops

GRID = "grid"  # OUTPUT/grid.png: inputs above their translations


def output_stems(paths):
    """A distinct output name (without .png) per input path: its file stem, and where two inputs share one
    (a.jpg and a.png, or one name in two folders) or it is the grid's, the stem with its extension, then
    a number."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    counts, taken, names = collections.Counter(stems), {GRID}, []
    for path, stem in zip(paths, stems):
        name = stem if counts[stem] == 1 and stem != GRID else f"{stem}_{os.path.splitext(path)[1].lstrip('.')}"
        base, number = name.rstrip("_"), 2
        name = base
        while name in taken:
            name, number = f"{base}_{number}", number + 1
        taken.add(name)
        names.append(name)
    return names


def model_inputs(path, name, domain, config, faces=None):
    """[(output name, model input)] of one file: the whole image, or with `faces` (a FaceCropper) each face.

    An UnreadableImage says why there is none.
    """
    inputs = image_inputs(reading.read_rgb(path), domain, config, faces)
    return [(name if faces is None else f"{name}_face{i}", x) for i, x in enumerate(inputs, 1)]


def image_inputs(rgb, domain, config, faces=None):
    """Model inputs of uint8 pixels: the whole image, or with `faces` each face found (UnreadableImage if none)."""
    return [data.to_model_input(crop, data.crop_for(domain, config), config.image_size)
            for crop in crops(rgb, faces)]


def _refuse_to_overwrite(paths, output):
    """DataError if an input file lives in `output`: its translations (NAME.png, NAME_faceN.png, grid.png)
    could land on it, so nothing is written."""
    inside = [p for p in paths if os.path.realpath(os.path.dirname(p) or ".") == os.path.realpath(output)]
    if inside:
        raise DataError(f"--output {output} holds the input {inside[0]}{' and others' if len(inside) > 1 else ''}: "
                        f"the translations could overwrite inputs. Nothing was written; choose another --output.")


def translate_files(model, source, target, paths, output, faces=None, batch_size=64, grid_width=10):
    """Translate `paths` from `source` to `target`; write OUTPUT/<name>.png (output_stems) and OUTPUT/grid.png.

    With `faces`, each face of each file is translated, to OUTPUT/<name>_faceN.png. Refuses (DataError)
    an output folder that holds any of the inputs. Returns (written paths, [(unreadable path, reason)]).
    """
    _refuse_to_overwrite(paths, output)
    names, inputs, failed = [], [], []
    for path, stem in zip(paths, output_stems(paths)):
        try:
            for name, x in model_inputs(path, stem, source, model.config, faces):
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
    images.save_png(images.pairs_grid(x, y, grid_width), os.path.join(output, GRID + ".png"))
    return written, failed
