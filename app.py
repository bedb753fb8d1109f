"""A local web page to try the trained XGAN: drop a photo, get the manga face of every face in it.

    python app.py                          # then open http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080 --models runs/other/models
Without --models it serves the default run's trained models, or the shipped model (pretrained/) until there are some.
Binds to this computer only unless --host says otherwise. Uploads are not stored.
"""
import argparse
import sys

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.config import ConfigError, add_config_flags, checked, given_flags
from utils.faces import FaceCropper
from utils.networks import ModelNotFoundError, add_models_flag, describe, load_trained
from utils.webapp import create_app


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_models_flag(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this computer)")
    parser.add_argument("--port", type=checked(int, "a port number from 1 to 65535", lambda v: 0 < v < 65536),
                        default=7860, help="port (default: 7860)")
    add_config_flags(parser, "translate")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        model, models = load_trained(args.models, given_flags(args, "translate"))
    except (ModelNotFoundError, ConfigError) as error:
        sys.exit(f"error: {error}")
    app = create_app(model, FaceCropper(), describe(models))
    print(f"open http://{args.host}:{args.port} to try {describe(models)} (Ctrl-C stops)", flush=True)
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
