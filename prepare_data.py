"""Fill train1/ val1/ test1/ (real faces) and train2/ val2/ test2/ (manga faces) from folders, archives or
tensorflow-datasets.

    python prepare_data.py --real ~/photos --manga anime-faces.zip        # any folder; the Kaggle download
    python prepare_data.py --real tfds:celeb_a --limit 20000 --replace    # CelebA through tensorflow-datasets
    python prepare_data.py --manga cartoonset10k.tgz                      # the XGAN paper's Cartoon Set
    python prepare_data.py --real group_photos/ --face-crop               # each face found, aligned

SOURCE: a folder (searched recursively), a .zip/.tar/.tgz archive, or tfds:NAME[:SPLIT].
Unreadable files are skipped and listed; exact duplicates are kept once; the test and validation faces
are drawn at random (--seed) among the faces with no near duplicate in the source (another encoding, crop
or expression of the same picture), so no face is on two sides (checked on the written files).
Photos are written as JPEG (quality 95), manga as PNG, shrunk to at most --max-side pixels.
"""
import argparse
import sys

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.data import DataError
from utils.faces import FaceCropper
from utils.config import checked
from utils.prepare import Split, SplitError, prepare
from utils.reading import describe_bad


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", metavar="SOURCE", help="real faces: fills train1/ val1/ test1/")
    parser.add_argument("--manga", metavar="SOURCE", help="manga faces: fills train2/ val2/ test2/")
    parser.add_argument("--out", default=".", help="folder to create the six folders in (default: .)")
    ratio, count = (checked(float, "a number between 0 and 1", lambda v: 0 < v < 1),
                    checked(int, "a positive whole number", lambda v: v > 0))
    parser.add_argument("--test-ratio", type=ratio, default=0.05, help="share held out for testing (default: 0.05)")
    parser.add_argument("--test-count", type=count, help="number held out for testing (instead of --test-ratio)")
    parser.add_argument("--val-ratio", type=ratio, default=0.05,
                        help="share held out for validation, where settings are chosen (default: 0.05)")
    parser.add_argument("--val-count", type=count, help="number held out for validation (instead of --val-ratio)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    parser.add_argument("--limit", type=checked(int, "a whole number of at least 2", lambda v: v >= 2),
                        help="use at most this many unique images per domain")
    parser.add_argument("--face-crop", action="store_true",
                        help="real photos: find each face, align it to the framing of CelebA's crops, keep only faces")
    parser.add_argument("--max-side", type=checked(int, "a whole number of at least 16", lambda v: v >= 16),
                        default=256, help="shrink larger images to this side (default: 256)")
    parser.add_argument("--replace", action="store_true",
                        help="replace the domain's folders if they hold files (once the new images are all written)")
    parser.add_argument("--tfds-dir", help="where tensorflow-datasets keeps its downloads (default: its own)")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    if not (args.real or args.manga):
        parser.error("give --real SOURCE, --manga SOURCE or both")
    try:
        for domain in ("real", "manga"):
            source = getattr(args, domain)
            if not source:
                continue
            faces = FaceCropper() if args.face_crop and domain == "real" else None
            split = Split(args.test_ratio, args.test_count, args.val_ratio, args.val_count, args.seed)
            report = prepare(domain, source, args.out, split, args.limit, faces, args.max_side, args.replace,
                             args.tfds_dir)
            counts = ", ".join(f"{folder}/ {count}" for folder, count in report.written.items())
            print(f"{domain} from {source}: {counts} (exact duplicates dropped: {report.duplicates}; files not "
                  f"named as images, ignored: {report.not_images}; no face is in two of the folders)")
            if report.unreadable:
                print(describe_bad(report.unreadable), file=sys.stderr)
    except SplitError as error:
        parser.error(str(error))
    except DataError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
