"""Export the trained translators for serving without this repository's code.

    python export.py                              # runs/xgan/models -> exported/
    python export.py --models runs/other/models --out exported_other
Writes real2manga.keras, manga2real.keras (Keras) and real2manga/, manga2real/ (TensorFlow SavedModel,
signature "serve"). Each takes a batch of uint8 images [batch, height, width, 3] of any size, cuts the
centred square (of photos, the part of it the run was trained on: --real-crop), and returns the 64x64 uint8
translations.
"""
import argparse
import os
import sys

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.config import add_config_flags, given_flags
from utils.export import export
from utils.networks import ModelNotFoundError, add_models_flag, load_trained


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_flag(parser)
    parser.add_argument("--out", default="exported", help="folder to write to (default: exported)")
    add_config_flags(parser, "translate")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        model, _ = load_trained(args.models, given_flags(args, "translate"))
        written = export(model, args.out)
    except (ModelNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    print("wrote " + ", ".join(written))
    print(f"serve: docker run -p 8501:8501 -v {os.path.abspath(args.out)}/real2manga:/models/real2manga/1 "
          f"-e MODEL_NAME=real2manga tensorflow/serving")


if __name__ == "__main__":
    main()
