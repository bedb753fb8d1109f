"""How the bundle's val1/ and val2/ were made (run once, from the full data the bundle was sampled from).

    python docs/make_validation_folders.py ../shared/data --count 300

SHARED holds real/ and manga/, of which train1/ test1/ and train2/ test2/ are copies. For each domain:
the validation faces are drawn at random (seed 0) among the source files that are not bundled yet and
have no near duplicate anywhere in the source (utils.prepare.NEAR_DUPLICATE: another encoding of the same
picture, or the same drawing with another expression); they are copied byte for byte. Then any training
file that is a near duplicate of a test or validation face is deleted from the training folder, so that
no two of the three folders share a face (tests/test_bundle.py checks it).
"""
import argparse
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils import reading  # noqa: E402
from utils.data import DOMAINS, layout_folders  # noqa: E402
from utils.prepare import NEAR_DUPLICATE, near_duplicates, thumbnail, thumbnail_distances  # noqa: E402

SOURCES = {"real": "real", "manga": "manga"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shared", help="folder holding real/ and manga/")
    parser.add_argument("--count", type=int, default=300, help="validation faces per domain (default: 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for domain in DOMAINS:
        train, val, test = layout_folders(domain)
        source = os.path.join(args.shared, SOURCES[domain])
        names = sorted(os.listdir(source))
        thumbs = np.stack([thumbnail(reading.read_rgb(os.path.join(source, n))) for n in names])
        threshold = NEAR_DUPLICATE[domain]
        close = thumbnail_distances(thumbs, thumbs) < threshold
        np.fill_diagonal(close, False)
        bundled = set(os.listdir(train)) | set(os.listdir(test))
        free = [i for i, name in enumerate(names) if name not in bundled and not close[i].any()]
        chosen = sorted(np.random.default_rng(args.seed).choice(free, args.count, replace=False))
        os.makedirs(val, exist_ok=True)
        for i in chosen:
            shutil.copyfile(os.path.join(source, names[i]), os.path.join(val, names[i]))
        held_out = [os.path.join(folder, n) for folder in (val, test) for n in sorted(os.listdir(folder))]
        train_names = sorted(os.listdir(train))
        train_thumbs = np.stack([thumbnail(reading.read_rgb(os.path.join(train, n))) for n in train_names])
        held_thumbs = np.stack([thumbnail(reading.read_rgb(p)) for p in held_out])
        dropped = sorted({train_names[i] for i, _ in near_duplicates(train_thumbs, held_thumbs, threshold)})
        for name in dropped:
            os.remove(os.path.join(train, name))
        print(f"{domain}: {len(chosen)} faces into {val}/ (of {len(free)} unbundled ones without a near duplicate); "
              f"{len(dropped)} training faces deleted as near duplicates of held-out ones: {', '.join(dropped)}")


if __name__ == "__main__":
    main()
