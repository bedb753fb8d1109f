"""Build the XGAN's networks and save them, untrained, for train.py.

    python model.py                      # the default recipe, sized for this machine, saved in models/
    python model.py --preset quick       # 3 epochs: the check that everything runs (blurry faces)
    python model.py --preset report      # the report's topology and settings (docs/design.md)
    python model.py --norm instance --seed 3 --out models_in
A preset sets topology and training settings alike (train.py reads them from the saved config.json);
flags given beside it override it. The default recipe computes in bfloat16 where the CPU has bfloat16
arithmetic (42 epochs) and in float32 elsewhere (26 epochs, about the same minutes).
"""
import argparse

import tensorflow as tf

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.config import PRESETS, ConfigError, add_config_flags, apply_flags, preset
from utils.networks import build, check_topology


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", dest="model_dir", default="models",
                        help="folder for the saved models (default: models)")
    parser.add_argument("--preset", choices=PRESETS, default="default",
                        help="topology and training settings to start from (default: default)")
    add_config_flags(parser, "model")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        config = apply_flags(preset(args.preset), args, "model")
    except ConfigError as error:
        parser.error(str(error))
    problem = check_topology(config)
    if problem:
        parser.error(problem)
    print(config.describe())
    model = build(config)
    model.save(args.model_dir)
    params = sum(int(v.numpy().size) for v in model.xgan.trainable_variables)
    gpu = tf.config.list_physical_devices("GPU")
    precision = ("float16" if gpu else "bfloat16") if config.mixed_precision else "float32"
    print(f"saved the two autoencoders ({params:,} weights, shared parts counted once), the discriminator(s) "
          f"and the domain classifier in {args.model_dir}/, with a recipe of {config.epochs} epochs in {precision}, "
          f"XLA {'on' if config.jit_compile else 'off'}; next: python train.py")


if __name__ == "__main__":
    main()
