"""Quality of the test faces against training time, from runs' log.csv: the README's plot and table.

    python docs/quality_curves.py default=runs/xgan quick=runs/quick report=runs/report --minutes 5 10 15 30 60

Writes docs/quality_curves.png and prints, for each run, the last epoch-end measure at or before each of
--minutes of training that the run reached, and its last measure.
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
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 15, 30, 60])
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "quality_curves.png"))
    args = parser.parse_args(argv)
    if not all("=" in run for run in args.runs):
        parser.error("each run is LABEL=RUN_DIR, for example default=runs/xgan")
    pairs = [run.split("=", 1) for run in args.runs]
    missing = [run_dir for _, run_dir in pairs if not os.path.isfile(os.path.join(run_dir, "log.csv"))]
    if missing:
        parser.error(f"no log.csv in {', '.join(missing)}: pass run folders that train.py wrote")
    runs = {label: read_log(run_dir) for label, run_dir in pairs}
    save_quality_curves(runs, NAMES, args.output)
    print("| run | minutes | " + " | ".join(NAMES) + " |")
    for label, rows in runs.items():
        measured = [row for row in rows if NAMES[0] in row]
        if not measured:
            continue
        end = measured[-1]["train_minutes"]
        marks = [(f"{m:g}", [r for r in measured if r["train_minutes"] <= m]) for m in args.minutes if m <= end]
        printed = [rows_before[-1] for _, rows_before in marks if rows_before]
        if measured[-1] not in printed:
            marks.append(("end", measured))       # a run that stopped between two marks: its last measure
        for mark, rows_before in marks:
            if rows_before:
                row = rows_before[-1]
                print(f"| {label} | {mark} (epoch {row['epoch']:.0f}, {row['train_minutes']:.1f}) | "
                      + " | ".join(f"{row[name]:.2f}" for name in NAMES) + " |")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
