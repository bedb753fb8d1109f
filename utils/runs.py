"""The run folder of train.py: which settings a resumed run keeps, the record of its starts, and what --fresh
may delete.

A run folder holds config.json (the run's settings), starts.json (every start of the run: its settings and
the step it started from; its presence marks the folder as a run folder), checkpoints/, log.csv,
loss_curves.png, samples/, tensorboard/ and models/.
"""
import dataclasses
import datetime
import hashlib
import json
import os

import tensorflow as tf

from utils import checkpoints, data
from utils.config import Config, flag

STARTS = "starts.json"
RUN_FILES = ("config.json", STARTS, "log.csv", "loss_curves.png", "samples", "tensorboard", "models",
             checkpoints.CHECKPOINT_DIR)
# Flags a run may change when it goes on: how long (and so over which last epochs the rates fall), how often
# it logs, checks and measures, and how it is executed. Every other setting changes what the run trains, so
# the run's own saved value stays.
MAY_CHANGE = ("epochs", "max_steps", "decay_epochs", "log_every", "checkpoint_every", "keep_checkpoints",
              "sample_count", "quality_every", "quality_features", "strategy", "jit_compile")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RunError(ValueError):
    """A run folder or flag that train.py refuses; the message names it and what to do."""


def _local(path):
    return os.path.realpath(path) if "://" not in path else path.rstrip("/")


def check_out(out, model_dir):
    """Refuse a run folder that is the project's root or holds the model folder: --fresh empties a run folder."""
    run, models = _local(out), _local(model_dir)
    if run == ROOT:
        raise RunError(f"--out {out} is the project's own folder; a run folder holds a run's files only, and "
                       f"--fresh empties it. Use a folder of its own, such as --out runs/xgan.")
    if models == run or models.startswith(run.rstrip("/") + "/"):
        raise RunError(f"--out {out} holds the model folder {model_dir}/ that train.py starts from; --fresh "
                       f"would delete it. Use another --out, such as runs/xgan.")


def has_checkpoint(out):
    return tf.train.latest_checkpoint(os.path.join(out, checkpoints.CHECKPOINT_DIR)) is not None


def settings(models_config, given, fresh):
    """The settings of this start: the model folder's with the given flags for a new run (or --fresh); for a
    run that goes on, its own saved settings with only the MAY_CHANGE flags applied. A flag that would
    change what a going run trains is refused (RunError), as is a model folder of another topology."""
    out = given.get("out", models_config.out)
    if fresh or not has_checkpoint(out):
        return dataclasses.replace(models_config, **given)
    # The run goes on from wherever its folder is now, on any data folder that holds the same training faces
    # (check_same_data), however either is spelled; --max-steps limits one start, not the run.
    saved = Config.load(os.path.join(out, "config.json"))
    saved = dataclasses.replace(saved, out=out, max_steps=0, data_dir=given.get("data_dir", saved.data_dir))
    check_same_data(out, saved.data_dir)
    refused = [(name, value) for name, value in given.items() if name not in MAY_CHANGE and value != getattr(saved, name)]
    if refused:
        name, value = refused[0]
        raise RunError(f"{flag(name)} {value}: the run in {out}/ was started with {flag(name)} "
                       f"{getattr(saved, name)} and goes on with its own settings. Pass --fresh to start it over "
                       f"with the new value, or --out for a new run folder (only "
                       f"{', '.join(flag(n) for n in MAY_CHANGE)} may change as a run goes on).")
    model_fields = [f.name for f in dataclasses.fields(Config) if f.metadata["group"] == "model"]
    other = [n for n in model_fields if getattr(saved, n) != getattr(models_config, n)]
    if other:
        raise RunError(f"The models in the model folder were built with other settings ({', '.join(flag(n) for n in other)}) "
                       f"than the run in {out}/ was started from. Pass --fresh to start the run over from them, or "
                       f"--out for a new run folder.")
    return dataclasses.replace(saved, **{name: value for name, value in given.items() if name in MAY_CHANGE})


def check_may_empty(out):
    """Refuse --fresh on a folder that holds files but is not a run folder (no starts.json)."""
    present = tf.io.gfile.listdir(out) if tf.io.gfile.isdir(out) else []
    if present and STARTS not in [p.rstrip("/") for p in present]:
        raise RunError(f"--fresh would empty {out}/, but it is not a run folder made by train.py (it has no "
                       f"{STARTS}; it holds {', '.join(sorted(p.rstrip('/') for p in present)[:5])}). Nothing "
                       f"was deleted. Choose another --out.")


def empty(out):
    """Delete the run files of `out` (--fresh), and nothing else, where starts.json marks it as a run folder."""
    check_may_empty(out)
    for name in RUN_FILES:
        path = os.path.join(out, name)
        if tf.io.gfile.exists(path):
            tf.io.gfile.rmtree(path) if tf.io.gfile.isdir(path) else tf.io.gfile.remove(path)


def data_identity(data_dir):
    """What makes a data folder the same one for a run: the names of its training faces, per domain (a
    fingerprint, so the folder may be moved, copied or spelled otherwise; one listing per folder, cheap on a
    bucket too)."""
    names = {domain: [os.path.basename(p) for p in data.list_images(os.path.join(data_dir, folder))]
             for domain, folder in data.TRAIN_FOLDERS.items()}
    return {domain: {"faces": len(found), "sha256": hashlib.sha256("\n".join(found).encode()).hexdigest()}
            for domain, found in names.items()}


def _starts(out):
    path = os.path.join(out, STARTS)
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def check_same_data(out, data_dir):
    """Refuse (RunError) to go on with a data folder whose training faces are not those the run's last start
    recorded; runs from before the record are not checked."""
    recorded = next((start["data"] for start in reversed(_starts(out)) if "data" in start), None)
    now = data_identity(data_dir)
    if recorded is not None and now != recorded:
        counts = lambda d: f"{d['real']['faces']} + {d['manga']['faces']}"  # noqa: E731
        raise RunError(f"--data-dir {data_dir}: its training faces ({counts(now)}, by name) are not those the run "
                       f"in {out}/ trained on ({counts(recorded)}). Pass the run's own data folder, --fresh to start "
                       f"the run over on this data, or --out for a new run folder.")


def record_start(out, config, step):
    """config.json: the run's settings now; starts.json: one more entry (when, from which step, settings, which
    training faces)."""
    config.save(os.path.join(out, "config.json"))
    path = os.path.join(out, STARTS)
    starts = _starts(out)
    starts.append({"started": datetime.datetime.now().isoformat(timespec="seconds"), "from_step": step,
                   "settings": dataclasses.asdict(config), "data": data_identity(config.data_dir)})
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        json.dump(starts, f, indent=1)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
