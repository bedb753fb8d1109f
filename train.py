"""Train the XGAN that model.py saved on train1/ (real faces) and train2/ (manga faces).

    python train.py                                  # the recipe model.py saved, run folder runs/xgan/
    python train.py --max-steps 20 --out runs/smoke  # a quick check that everything runs
    python train.py --epochs 10                      # go on from the run's checkpoint up to epoch 10
    python train.py --strategy mirrored --mixed-precision true   # every GPU of this machine, float16
    tensorboard --logdir runs/xgan                   # watch it

Rerunning a command goes on from the run folder's latest checkpoint with the run's own settings (only
--epochs, --max-steps, the logging, checkpoint and quality intervals and how it runs may change); --fresh
starts over. Ctrl-C or SIGTERM (a preempted VM) saves a checkpoint and stops. Writes to the run folder:
config.json, starts.json, checkpoints/, log.csv, loss_curves.png, samples/epoch_NNN.png, tensorboard/,
and at the end models/ for translate.py. Paths may be gs:// URLs.
"""
import argparse
import sys

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils import runs
from utils.checkpoints import CheckpointMismatch
from utils.config import ConfigError, add_config_flags, given_flags
from utils.data import DataError, run_files
from utils.distribute import StrategyError, make_strategy, set_mixed_precision
from utils.networks import ModelNotFoundError, load, rebuild, saved_config
from utils.training import TrainingStopped, fit


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="models", help="folder model.py saved to (default: models)")
    parser.add_argument("--fresh", action="store_true",
                        help="start the run over: delete the run folder's checkpoints, logs and samples first")
    add_config_flags(parser, "train")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        how_to_make = f"python model.py --out {args.models}"
        models_config, given = saved_config(args.models, how_to_make), given_flags(args, "train")
        runs.check_out(given.get("out", models_config.out), args.models)
        config = runs.settings(models_config, given, args.fresh)
        if args.fresh:
            runs.check_may_empty(config.out)
        strategy = make_strategy(config.strategy)  # first: a multi-worker strategy must precede other TF work
        set_mixed_precision(config.mixed_precision)
        print(config.describe(), flush=True)
        log = lambda line: print(line, flush=True)  # noqa: E731
        files = run_files(config, log)  # bad data is found before any model is built
        with strategy.scope():
            model = load(args.models, how_to_make)
            if config.mixed_precision:
                model = rebuild(model)  # the saved float32 layers anew under the mixed policy
        model.config = config
        fit(model, config, files, log=log, fresh=args.fresh, strategy=strategy)
    except (ModelNotFoundError, ConfigError, DataError, CheckpointMismatch, StrategyError, runs.RunError) as error:
        sys.exit(f"error: {error}")
    except TrainingStopped as stop:
        print(f"stopped: {stop}", file=sys.stderr)
        sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
