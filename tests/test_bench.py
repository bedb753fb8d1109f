"""bench.py runs every row in its smoke mode (speed figures belong in its output, not in tests)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(*flags):
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--smoke", *flags], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_step_table_times_every_setting_and_states_pipeline_flops_and_memory(tiny_data):
    out = bench("--data-dir", str(tiny_data))
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ") and line[2] != "-"][1:]
    assert len(rows) == 5 and all(float(row[3]) > 0 for row in rows)
    for figure in ("input pipeline:", "FLOPs per step", "compute efficiency", "peak memory:"):
        assert figure in out


def test_device_table_has_a_row_per_device_count_and_precision():
    rows = [line for line in bench("--devices").splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 4 and all(float(row.split("|")[3]) > 0 for row in rows)


def test_parts_table_gives_each_parts_share_the_epoch_ends_the_start_up_and_the_efficiency(tiny_data):
    out = bench("--parts", "--data-dir", str(tiny_data))
    rows = {row.split("|")[1].strip(): float(row.split("|")[2]) for row in out.splitlines()
            if row.startswith("| ") and row[2] != "-" and not row.startswith("| part")}
    assert {"encoder_real", "decoder_manga", "discriminator_real", "domain_classifier",
            "moving average of the weights", "R1 second backward pass (manga)"} <= set(rows)
    assert any(name.startswith("of which the full-size first conv") for name in rows)
    assert all(seconds > 0 for name, seconds in rows.items() if name.startswith(("encoder", "decoder", "discr")))
    for figure in ("the quality measure of 10 validation faces", "start-up:", "compute efficiency", "bfloat16"):
        assert figure in out
