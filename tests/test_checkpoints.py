"""Long runs that survive: checkpoints, resume, signals, the NaN guard, the seed, the run folder's files."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import model as model_py
from conftest import TINY_MODEL_FLAGS, write_images
from utils.networks import build
from utils.training import TrainingStopped, fit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUIET = lambda line: None  # noqa: E731


def _weights(model):
    return [w.numpy() for network in model.parts().values() for w in network.weights]


def _checkpoint_steps(run_dir):
    state = tf.train.get_checkpoint_state(os.path.join(run_dir, "checkpoints"))
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths] if state else []


def test_rerun_resumes_from_the_checkpoint_and_fresh_starts_over(tiny_config, tiny_data):
    config = dataclasses.replace(tiny_config, epochs=2, max_steps=4)
    trained = build(config)
    fit(trained, config, log=QUIET)
    assert _checkpoint_steps(config.out)[-1] == 4

    # A new model with other weights, in the same run folder: everything comes back from the checkpoint.
    lines = []
    resumed = build(dataclasses.replace(config, seed=1))
    fit(resumed, config, log=lines.append)
    assert any("resuming from the checkpoint of step 4" in line for line in lines)
    assert all(np.array_equal(a, b) for a, b in zip(_weights(trained), _weights(resumed)))

    # Going on to more steps continues the step count and the log.
    rows = fit(resumed, dataclasses.replace(config, max_steps=6), log=QUIET)
    assert [row["step"] for row in rows] == [3, 4, 6]            # epoch ends and the last step
    assert _checkpoint_steps(config.out)[-1] == 6

    lines = []
    rows = fit(resumed, dataclasses.replace(config, max_steps=1), log=lines.append, fresh=True)
    assert not any("resuming" in line for line in lines)
    assert [row["step"] for row in rows] == [1] and _checkpoint_steps(config.out) == [1]


def test_nan_loss_stops_with_the_term_and_step_and_keeps_the_last_good_checkpoint(tiny_config, tiny_data):
    config = dataclasses.replace(tiny_config, max_steps=2, checkpoint_every=1)
    fit(build(config), config, log=QUIET)
    broken = dataclasses.replace(config, max_steps=5, w_rec=float("nan"))
    with pytest.raises(TrainingStopped, match=r"L_gen became nan at step 3") as stop:
        fit(build(config), broken, log=QUIET)
    assert stop.value.exit_code == 1
    assert _checkpoint_steps(config.out)[-1] == 2


def test_same_seed_same_first_losses(tiny_config, tiny_data, tmp_path):
    def first_rows(out):
        config = dataclasses.replace(tiny_config, out=str(tmp_path / out), max_steps=3, log_every=1)
        return fit(build(config), config, log=QUIET)

    a, b = first_rows("a"), first_rows("b")
    for row_a, row_b in zip(a, b):
        for name in ("L_rec", "L_dann", "L_sem", "L_gan", "L_disc"):
            assert row_a[name] == pytest.approx(row_b[name], rel=1e-4), (row_a["step"], name)


def test_run_folder_files_open_and_urls_work(tiny_config, tiny_data):
    # file:// URLs take the same tf.io.gfile / Keras remote-path code as gs:// ones.
    config = dataclasses.replace(tiny_config, epochs=2, data_dir="file://" + tiny_data,
                                 out="file://" + tiny_config.out)
    fit(build(config), config, log=QUIET)
    run = tiny_config.out
    assert json.load(open(os.path.join(run, "config.json")))["out"] == config.out
    assert open(os.path.join(run, "log.csv")).readline().startswith("epoch,step,train_minutes,L_rec")
    for name in ("loss_curves.png", "samples/epoch_001.png", "samples/epoch_002.png"):
        Image.open(os.path.join(run, name)).verify()
    assert os.path.isfile(os.path.join(run, "models", "xgan.keras"))

    events = [os.path.join(run, "tensorboard", f) for f in os.listdir(os.path.join(run, "tensorboard"))]
    tags = {value.tag for path in events for event in tf.compat.v1.train.summary_iterator(path)
            for value in event.summary.value}
    assert {"loss/L_rec", "loss/L_dann", "disc_acc", "images_per_s", "learning_rate/generator"} <= tags
    assert any(tag.startswith("samples") for tag in tags)


TOTAL_STEPS = 3 * 40 // 2   # train_command's run


@pytest.fixture
def train_command(tiny_data, tmp_path):
    """train.py on 40 real faces at batch 2: 20 steps an epoch, 60 (TOTAL_STEPS) in all, a checkpoint every 5."""
    write_images(os.path.join(tiny_data, "train1"), 40, 44, 36, seed=5, ext="jpg")
    model_py.main(["--out", str(tmp_path / "models")] + TINY_MODEL_FLAGS)
    return [sys.executable, os.path.join(ROOT, "train.py"), "--models", str(tmp_path / "models"),
            "--data-dir", tiny_data, "--out", str(tmp_path / "run"), "--batch-size", "2", "--epochs", "3",
            "--checkpoint-every", "5", "--log-every", "1", "--jit-compile", "false", "--quality-every", "0"]


def _start(command):
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_checkpoint(process, run_dir, timeout=120):
    deadline = time.time() + timeout
    while not _checkpoint_steps(run_dir):
        assert process.poll() is None and time.time() < deadline, "no checkpoint written"
        time.sleep(0.05)


def test_kill_9_then_rerun_ends_with_all_steps(train_command, tmp_path):
    run_dir = str(tmp_path / "run")
    process = _start(train_command)
    _wait_for_checkpoint(process, run_dir)
    time.sleep(0.1)                              # into the next stretch of steps, maybe into a save
    process.kill()
    process.wait()
    assert not os.path.exists(os.path.join(run_dir, "models")), "the run ended before the kill"
    killed_at = _checkpoint_steps(run_dir)[-1]
    # Every checkpoint left behind is readable.
    for path in tf.train.get_checkpoint_state(os.path.join(run_dir, "checkpoints")).all_model_checkpoint_paths:
        tf.train.load_checkpoint(path)

    rerun = subprocess.run(train_command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"resuming from the checkpoint of step {killed_at}" in rerun.stdout
    steps = [int(line.split(",")[1]) for line in open(os.path.join(run_dir, "log.csv")).readlines()[1:]]
    assert steps == list(range(1, TOTAL_STEPS + 1))    # no step lost or logged twice
    assert _checkpoint_steps(run_dir)[-1] == TOTAL_STEPS


def test_sigterm_saves_a_checkpoint_and_exits(train_command, tmp_path):
    run_dir = str(tmp_path / "run")
    process = _start(train_command)
    _wait_for_checkpoint(process, run_dir)
    process.send_signal(signal.SIGTERM)
    # No wall-clock bound (CI's loaded machine took 20 s once): the run must stop short of its 60 steps instead.
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM received: checkpoint of step" in output
    stopped_at = int(output.split("checkpoint of step ")[1].split()[0])
    assert stopped_at < TOTAL_STEPS
    assert _checkpoint_steps(run_dir)[-1] == stopped_at
    assert not os.path.exists(os.path.join(run_dir, "models")), "the run finished instead of stopping"
