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
