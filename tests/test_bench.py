"""bench.py runs every row in its smoke mode (speed figures belong in its output, not in tests)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_smoke_prints_a_row_per_setting():
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--smoke"], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 4 and all(float(row.split("|")[3]) > 0 for row in rows)
