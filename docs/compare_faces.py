"""The same test photos above their manga translations by several trained models: the README's face figures.

    python docs/compare_faces.py "previous default=runs/old/models" "default=runs/xgan/models" \
        --output docs/default_faces.png

Each LABEL=MODELS_DIR gives one row under each row of photos (LABEL=MODELS_DIR,sharpen=X,smooth=Y: translated
with translate.py's --sharpen X and --smooth Y instead of the saved values); --photos picks the test photos (by
default the README's 24, chosen for blonde, red, black and grey hair, dark and light skin, turned heads, smiles
and glasses).
"""
import argparse
import dataclasses
import os
import sys

import numpy as np
from matplotlib.figure import Figure

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import utils  # noqa: E402,F401  (quiets TensorFlow's start-up log)
from utils import images, reading  # noqa: E402
from utils.config import Config, ConfigError  # noqa: E402
from utils.networks import ModelNotFoundError, load  # noqa: E402
from utils.translation import model_inputs  # noqa: E402

README_PHOTOS = [f"test1/{n:06d}.jpg" for n in (
    3004, 3018, 3021, 3045, 3011, 3030, 3081, 3038, 3043, 3058, 3002, 3027,
    3096, 3041, 3047, 3061, 3063, 3040, 3087, 3007, 3026, 3012, 3046, 3049)]


def photo_inputs(photos, config):
    """The photos as `config`'s model sees them (as translate.py crops them); UnreadableImage names the file."""
    x = []
    for path in photos:
        try:
            x.append(model_inputs(path, "", "real", config)[0][1])
        except reading.UnreadableImage as error:
            raise reading.UnreadableImage(f"{path}: {error}") from error
    return np.stack(x)


def face_blocks(models, photos, width):
    """Row labels and blocks of rows ([-1, 1] images): `width` photos, then each model's translations of them.
    `models`: [(label, models dir, translate settings)]. Each model gets the photos as its own config crops them;
    the photo row shows them as the last model sees them."""
    labels, rows = ["photo"], []
    for label, models_dir, settings in models:
        model = load(models_dir, how_to_make="python train.py", settings=settings)
        x = photo_inputs(photos, model.config)
        labels.append(label)
        rows.append(model.translator("real", "manga").predict(x, verbose=0))
    return labels, [[part[start:start + width] for part in [x] + rows] for start in range(0, len(x), width)]


# translate.py's settings, which a row may set
SETTINGS = tuple(f.name for f in dataclasses.fields(Config) if f.metadata["group"] == "translate")


def model_spec(text):
    """(label, models dir, translate settings) of LABEL=MODELS_DIR[,sharpen=X][,smooth=Y]."""
    label, models_dir = text.split("=", 1)
    models_dir, *settings = models_dir.split(",")
    return label, models_dir, {name: float(value) for name, _, value in (s.partition("=") for s in settings)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="LABEL=MODELS_DIR[,sharpen=X][,smooth=Y]")
    parser.add_argument("--photos", nargs="+", default=README_PHOTOS, help="real photos (default: the README's 24)")
    parser.add_argument("--width", type=int, default=8, help="photos per block")
    parser.add_argument("--output", default="faces.png")
    args = parser.parse_args(argv)
    if args.width < 1:
        parser.error(f"--width {args.width}: give the number of photos per block, 1 or more")
    if not all("=" in m for m in args.models):
        parser.error("each model is LABEL=MODELS_DIR, for example default=runs/xgan/models")
    try:
        specs = [model_spec(m) for m in args.models]
    except ValueError:
        parser.error("a model's settings are numbers: LABEL=MODELS_DIR,smooth=20")
    unknown = sorted({name for _, _, settings in specs for name in settings} - set(SETTINGS))
    if unknown:
        parser.error(f"{unknown[0]}: a model row may set {' and '.join(SETTINGS)} only")
    missing = [p for p in args.photos if not os.path.isfile(p)]
    if missing:
        parser.error(f"no photo {missing[0]}: run it from the repository root, or pass --photos")
    try:
        labels, blocks = face_blocks(specs, args.photos, args.width)
    except (ModelNotFoundError, ConfigError) as error:
        sys.exit(f"error: {error}")
    except reading.UnreadableImage as error:
        sys.exit(f"error: {error}. Pass readable images with --photos.")
    figure = Figure(figsize=(1.0 + 0.9 * args.width, 0.9 * len(labels) * len(blocks)), layout="constrained")
    for i, block in enumerate(blocks):
        axes = figure.add_subplot(len(blocks), 1, i + 1)
        axes.imshow(images.to_uint8(images.grid(block)))
        size = block[0].shape[1] + 2
        axes.set_yticks([size * j + size / 2 for j in range(len(labels))], labels)
        axes.set_xticks([])
        axes.tick_params(length=0)
        for side in axes.spines.values():
            side.set_visible(False)
    figure.savefig(args.output, format="png", dpi=100, bbox_inches="tight")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
