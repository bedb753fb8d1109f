"""Translate faces with a trained XGAN: real photos into manga faces, or manga faces into photos.

    python translate.py                     # test1/ -> results/real2manga/, test2/ -> results/manga2real/
    python translate.py --input me.jpg friends/ --output out/ --direction real2manga
    python translate.py --input group_photo.jpg --face-crop   # every face found, aligned first
Writes one PNG per input (same file stem; STEM_faceN.png with --face-crop) and grid.png: inputs above
their translations. Files that cannot be read (or hold no face) are skipped and listed at the end.
"""
import argparse
import os
import sys

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.config import ConfigError, add_config_flags, given_flags
from utils.data import TEST_FOLDERS, DataError, list_images
from utils.faces import FaceCropper
from utils.networks import DIRECTIONS, ModelNotFoundError, add_models_flag, describe, load_trained
from utils.reading import describe_bad
from utils.translation import translate_files


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_flag(parser)
    parser.add_argument("--input", nargs="+", help="image files and/or folders (default: test1/ and test2/)")
    parser.add_argument("--output", help="folder for the translations (default: results/DIRECTION)")
    parser.add_argument("--direction", choices=DIRECTIONS, default="real2manga",
                        help="which way to translate --input (default: real2manga)")
    parser.add_argument("--face-crop", action="store_true",
                        help="find each face in the photos (any size, anywhere, several per photo), align it to the "
                             "framing of the training faces, and translate each one")
    add_config_flags(parser, "translate")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        model, models = load_trained(args.models, given_flags(args, "translate"))
        if args.input:
            jobs = [(args.direction, args.input, args.output or os.path.join("results", args.direction))]
        else:
            jobs = [(direction, [TEST_FOLDERS[source]], os.path.join("results", direction))
                    for direction, (source, _) in DIRECTIONS.items()]
        faces = FaceCropper() if args.face_crop else None
        for direction, inputs, output in jobs:
            paths = [p for item in inputs for p in (list_images(item) if os.path.isdir(item) else [item])]
            written, failed = translate_files(model, *DIRECTIONS[direction], paths, output, faces)
            print(f"{direction}: {len(written)} images translated into {output}/ by {describe(models)}")
            if failed:
                print(describe_bad(failed), file=sys.stderr)
            if not written:
                sys.exit(f"error: none of the {len(paths)} inputs could be translated")
    except (ModelNotFoundError, ConfigError, DataError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
