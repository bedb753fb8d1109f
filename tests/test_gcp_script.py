"""docs/gcp.sh: valid bash, and the commands its dry run prints (no cloud access here)."""
import json
import os
import re
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "gcp.sh")


def _dry_run(step, **env):
    return subprocess.run(["bash", SCRIPT, step], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DRY_RUN": "1", **env})


def test_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", SCRIPT]).returncode == 0


def test_dry_run_prints_every_step():
    run = _dry_run("all", BUCKET="b", WORKERS="3")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "gcloud compute instances create xgan --zone us-central1-a" in out
    assert "--accelerator type=nvidia-tesla-t4,count=1" in out and "--provisioning-model SPOT" in out
    assert "python model.py --out gs://b/models" in out                 # the default recipe
    assert "gcloud storage cp -r train1 train2 val1 val2 test1 test2 gs://b/data/" in out
    assert ("python train.py --models gs://b/models --data-dir gs://b/data --out gs://b/runs/xgan "
            "--strategy mirrored") in out
    assert "gcloud storage cp -r gs://b/runs/xgan/models" in out

    configs = [json.loads(c) for c in re.findall(r"TF_CONFIG='(.*?)' nohup", out)]
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(c["cluster"]["worker"] == ["xgan-0:12345", "xgan-1:12345", "xgan-2:12345"] for c in configs)
    assert out.count("--strategy multiworker") == 3 and out.count("--out gs://b/runs/xgan-multiworker") == 3


def test_all_waits_for_each_run_before_using_its_models():
    lines = _dry_run("all", BUCKET="b").stdout.splitlines()
    position = {name: next(i for i, line in enumerate(lines) if pattern in line) for name, pattern in (
        ("train", "--strategy mirrored"), ("wait", "wait until gs://b/runs/xgan/models/config.json is written after"),
        ("fetch", "gcloud storage cp -r gs://b/runs/xgan/models"), ("stop", "instances stop xgan "),
        ("multi", "--strategy multiworker"),
        ("wait_multi", "wait until gs://b/runs/xgan-multiworker/models/config.json is written after"),
        ("delete", "instances delete"))}
    # the single VM is stopped once its run is fetched: the multi-worker phase does not need it
    assert position["train"] < position["wait"] < position["fetch"] < position["stop"] < position["multi"]
    assert position["multi"] < position["wait_multi"]
    assert position["wait_multi"] < position["delete"]


def test_usage_and_missing_bucket():
    assert _dry_run("nonsense", BUCKET="b").returncode == 2
    env = {k: v for k, v in os.environ.items() if k != "BUCKET"}
    missing = subprocess.run(["bash", SCRIPT, "create"], capture_output=True, text=True, env={**env, "DRY_RUN": "1"})
    assert missing.returncode != 0 and "set BUCKET" in missing.stderr


def _fake_gcloud(tmp_path, written):
    """A gcloud on PATH whose `storage ls -l` lists models/config.json as written at `written` (None: absent)."""
    script = tmp_path / "bin" / "gcloud"
    script.parent.mkdir(parents=True)
    listing = f'echo "      1234  {written}  $4"' if written else "exit 1"
    script.write_text(f'#!/bin/bash\nif [ "$1 $2 $3" = "storage ls -l" ]; then {listing}; fi\n')
    script.chmod(0o755)
    return {"PATH": f"{script.parent}:{os.environ['PATH']}", "BUCKET": "b", "POLL_SECONDS": "1", "WAIT_HOURS": "0"}


def test_wait_waits_for_the_models_of_this_run_not_an_earlier_ones(tmp_path):
    def wait(written, started="2026-12-07T10:00:00Z"):
        env = _fake_gcloud(tmp_path / written.replace(":", "") if written else tmp_path / "none", written)
        (tmp_path / ".gcp-xgan-started").write_text(started + "\n")
        return subprocess.run(["bash", SCRIPT, "wait"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={**os.environ, **env})
    assert wait("2026-12-07T11:30:00Z").returncode == 0           # written after "train" started the run
    earlier = wait("2026-12-06T09:00:00Z")                        # left by an earlier run: still waiting
    assert earlier.returncode == 1 and "gave up waiting" in earlier.stderr
    assert wait(None).returncode == 1


def test_wait_without_a_started_run_says_to_train_first(tmp_path):
    run = subprocess.run(["bash", SCRIPT, "wait"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={**os.environ, "BUCKET": "b"})
    assert run.returncode == 2 and 'run "train" first' in run.stderr
