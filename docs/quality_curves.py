"""Quality of the test faces against training time, from runs' log.csv: the README's plot and table.

    python docs/quality_curves.py default=runs/xgan long=runs/long report=runs/report --minutes 5 15 30 60

Writes docs/quality_curves.png and prints, for each run, the last epoch-end measure at or before each of
--minutes of training.
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.images import save_quality_curves  # noqa: E402

NAMES = ("kid_x100_real2manga", "retrieval_real2manga", "kid_x100_manga2real", "retrieval_manga2real")


def read_log(run_dir):
    with open(os.path.join(run_dir, "log.csv")) as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 15, 30, 60])
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "quality_curves.png"))
    args = parser.parse_args(argv)
    if not all("=" in run for run in args.runs):
        parser.error("each run is LABEL=RUN_DIR, for example default=runs/xgan")
    runs = {label: read_log(run_dir) for label, run_dir in (run.split("=", 1) for run in args.runs)}
    save_quality_curves(runs, NAMES, args.output)
    print("| run | minutes | " + " | ".join(NAMES) + " |")
    for label, rows in runs.items():
        measured = [row for row in rows if NAMES[0] in row]
        for minutes in args.minutes:
            before = [row for row in measured if row["train_minutes"] <= minutes]
            if before:
                row = before[-1]
                print(f"| {label} | {minutes:g} (epoch {row['epoch']:.0f}, {row['train_minutes']:.1f}) | "
                      + " | ".join(f"{row[name]:.2f}" for name in NAMES) + " |")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
