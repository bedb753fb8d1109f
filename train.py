"""Train the XGAN that model.py saved on train1/ (real faces) and train2/ (manga faces).

    python train.py                                  # 5 epochs, run folder runs/xgan/
    python train.py --max-steps 20 --out runs/smoke  # a quick check that everything runs
Writes to the run folder: config.json, log.csv, samples/epoch_NNN.png, models/ (for translate.py).
"""
import argparse
import sys

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.config import add_config_flags, apply_flags
from utils.data import DataError
from utils.networks import ModelNotFoundError, load
from utils.training import fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="models", help="folder model.py saved to (default: models)")
    add_config_flags(parser, "train")
    args = parser.parse_args(argv)
    try:
        model = load(args.models, how_to_make=f"python model.py --out {args.models}")
        model.config = config = apply_flags(model.config, args, "train")
        print(config.describe(), flush=True)
        fit(model, config, log=lambda line: print(line, flush=True))
    except (ModelNotFoundError, DataError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
