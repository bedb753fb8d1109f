"""Build the XGAN's networks and save them, untrained, for train.py.

    python model.py                      # the report's topology, saved in models/
    python model.py --norm instance --out models_in
"""
import argparse

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.config import Config, add_config_flags, apply_flags
from utils.networks import build


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", dest="model_dir", default="models",
                        help="folder for the saved models (default: models)")
    add_config_flags(parser, "model")
    args = parser.parse_args(argv)
    config = apply_flags(Config(), args, "model")
    print(config.describe())
    model = build(config)
    model.save(args.model_dir)
    params = sum(int(v.numpy().size) for v in model.xgan.trainable_variables)
    print(f"saved the two autoencoders ({params:,} weights, shared parts counted once), the discriminator "
          f"and the domain classifier in {args.model_dir}/; next: python train.py")


if __name__ == "__main__":
    main()
