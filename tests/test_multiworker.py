"""Two real worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy): one is killed with kill -9, or gets
the SIGTERM of a preempted VM (then both save the same step and exit), both are restarted with the same
commands, and the run ends at the same step with the same weights as an uninterrupted two-worker run.

The workers run with one inter-op thread (TF_NUM_INTEROP_THREADS=1): with more, even two uninterrupted
two-worker runs end apart (measured: last-bit differences in the losses from the first epoch, which Adam
grew to 4.7e-3 in the weights by step 18), so only a single inter-op thread makes "the same weights" a
test of the resume rather than of TensorFlow's thread scheduling. Single-process runs are bit-equal either way."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import model as model_py
from conftest import TINY_MODEL_FLAGS, write_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 3 * 24 // 4  # 3 epochs of 24 real faces at a global batch of 4


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(command, out):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [_popen(command, out, cluster, i) for i in range(2)]


def _popen(command, out, cluster, i):
    return subprocess.Popen(command + ["--out", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                                         "task": {"type": "worker", "index": i}}),
                                  "TF_NUM_INTEROP_THREADS": "1"})


def _finish(workers, timeout=400):
    outputs = [w.communicate(timeout=timeout)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), "\n\n".join(o[-3000:] for o in outputs)
    return outputs


def _checkpoint_steps(run_dir):
    state = tf.train.get_checkpoint_state(os.path.join(run_dir, "checkpoints"))
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths] if state else []


def _trained(run_dir):
    reader = tf.train.load_checkpoint(os.path.join(run_dir, "checkpoints"))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith(("xgan/", "average/")))
    return int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")), {n: reader.get_tensor(n) for n in names}


@pytest.fixture
def command(tiny_data, tmp_path):
    write_images(os.path.join(tiny_data, "train1"), 24, 44, 36, seed=5, ext="jpg")
    model_py.main(["--out", str(tmp_path / "models")] + TINY_MODEL_FLAGS)
    return [sys.executable, os.path.join(ROOT, "train.py"), "--models", str(tmp_path / "models"),
            "--data-dir", tiny_data, "--strategy", "multiworker", "--batch-size", "4", "--epochs", "3",
            "--checkpoint-every", "2", "--log-every", "1", "--quality-every", "0", "--jit-compile", "false"]


def _stop_one(workers, how, run_dir):
    """SIGKILL or SIGTERM to the second worker; the step both go on from."""
    workers[1].send_signal(how)
    if how == signal.SIGTERM:  # a preempted VM: both workers save the same step and exit, neither hangs
        try:
            outputs = [w.communicate(timeout=120)[0] for w in workers]
        finally:  # a worker left hanging in a collective must not outlive the test
            for w in workers:
                if w.poll() is None:
                    w.kill()
        assert [w.returncode for w in workers] == [128 + signal.SIGTERM] * 2, "\n\n".join(o[-3000:] for o in outputs)
        saved = [int(o.split(" saved in ")[0].rsplit("checkpoint of step ", 1)[1]) for o in outputs]
        assert saved[0] == saved[1] == _checkpoint_steps(run_dir)[-1]
        assert "SIGTERM received" in outputs[1] and "a stop on another worker received" in outputs[0]
        return saved[0]
    workers[1].wait()
    try:
        workers[0].wait(timeout=20)   # left alone it fails or hangs in a collective: a real cluster loses it too
    except subprocess.TimeoutExpired:
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
    return _checkpoint_steps(run_dir)[-1]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_two_workers_stopped_and_restarted_end_like_an_uninterrupted_run(command, tmp_path, how):
    whole, broken = str(tmp_path / "whole"), str(tmp_path / "broken")
    _finish(_start_workers(command, whole))
    expected_step, expected = _trained(whole)
    assert expected_step == STEPS

    workers = _start_workers(command, broken)
    deadline = time.time() + 300
    while not _checkpoint_steps(broken) or _checkpoint_steps(broken)[-1] < 4:
        assert all(w.poll() is None for w in workers) and time.time() < deadline, "no checkpoint before the stop"
        time.sleep(0.05)
    killed_at = _stop_one(workers, how, broken)
    assert killed_at < STEPS

    outputs = _finish(_start_workers(command, broken))
    assert f"resuming from the checkpoint of step {killed_at}" in outputs[0]
    step, weights = _trained(broken)
    assert step == expected_step
    assert weights.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(weights[name], expected[name], err_msg=name)
    starts = json.load(open(os.path.join(broken, "starts.json")))
    assert [s["from_step"] for s in starts] == [0, killed_at]
