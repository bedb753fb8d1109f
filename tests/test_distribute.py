"""tf.distribute and mixed precision: the same train step on one device and on two (several workers:
test_multiworker.py, with two processes that talk to each other)."""
import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

import utils.config
from conftest import assert_saved_moving_average
from utils.config import Config, add_config_flags
from utils.distribute import fast_mixed_precision, set_mixed_precision
from utils.networks import build, load
from utils.training import fit

HERE = os.path.dirname(os.path.abspath(__file__))


def _run():
    run = subprocess.run([sys.executable, os.path.join(HERE, "distributed_step.py")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_mirrored_step_on_two_devices_equals_one_device_step():
    result = _run()
    assert result["replicas"] == 2
    # Float32 sums in another order: 3e-5 against weight changes of about 0.3 in this step. Measured: 1.3e-5
    # (a shared encoder kernel) with the default L_col and decoders' Adam, 5e-6 with neither.
    assert result["max_weight_difference"] < 3e-5 < result["max_change"]
    assert result["max_term_difference"] < 1e-5


def test_auto_precision_is_on_only_where_the_cpu_computes_bfloat16(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert not fast_mixed_precision(str(cpuinfo))  # AVX-512 without bfloat16: emulated, 4x slower
    for native in ("avx512_bf16", "amx_bf16"):
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu avx2 avx512f {native} amx_tile\n")
        assert fast_mixed_precision(str(cpuinfo))
    assert not fast_mixed_precision(str(tmp_path / "missing"))
    parser = argparse.ArgumentParser()
    add_config_flags(parser, "train")
    for here in (True, False):
        monkeypatch.setattr(utils.config, "fast_mixed_precision", lambda here=here: here)
        assert parser.parse_args(["--mixed-precision", "auto"]).mixed_precision is here  # saved as true or false
    assert parser.parse_args(["--mixed-precision", "off"]).mixed_precision is False
    assert type(Config().mixed_precision) is bool


@pytest.fixture
def mixed_precision():
    yield set_mixed_precision(True)
    set_mixed_precision(False)


def test_mixed_precision_trains_with_finite_losses_and_saves_float32(tiny_config, tiny_data, mixed_precision):
    half = "float16" if tf.config.list_physical_devices("GPU") else "bfloat16"   # what this machine computes in
    assert mixed_precision == f"mixed_{half}"
    config = dataclasses.replace(tiny_config, max_steps=3, log_every=1, mixed_precision=True, quality_every=0,
                                 ema=0.9)
    model = build(config)
    assert model.xgan.get_layer("shared_encoder").get_layer("shared_down1_conv").compute_dtype == half
    rows = fit(model, config, log=lambda line: None)
    assert len(rows) == 3 and all(math.isfinite(v) for row in rows for v in row.values())
    saved = load(os.path.join(config.out, "models"), how_to_make="")
    assert keras.mixed_precision.global_policy().name == "float32"
    assert saved.xgan.get_layer("shared_encoder").get_layer("shared_down1_conv").compute_dtype == "float32"
    assert_saved_moving_average(config.out, saved)  # not the live weights the float32 copy was made from
