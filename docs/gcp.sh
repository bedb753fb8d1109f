#!/usr/bin/env bash
# Train this XGAN on Google Cloud: a Compute Engine VM with a GPU, data and checkpoints in a bucket.
# Every step is a function; docs/gcp.md explains them. DRY_RUN=1 prints the commands instead of running them.
#
#   BUCKET=my-bucket bash docs/gcp.sh create      # bucket, data upload, VM
#   BUCKET=my-bucket bash docs/gcp.sh train       # install and train on the VM (run again after a preemption)
#   BUCKET=my-bucket bash docs/gcp.sh wait        # until the run has saved its trained models
#   BUCKET=my-bucket bash docs/gcp.sh fetch       # trained models and results back to this computer
#   BUCKET=my-bucket WORKERS=2 bash docs/gcp.sh multiworker   # several VMs, one MultiWorkerMirroredStrategy
#   BUCKET=my-bucket bash docs/gcp.sh delete
set -euo pipefail

BUCKET=${BUCKET:?set BUCKET to a Cloud Storage bucket name (created by "create" if missing)}
ZONE=${ZONE:-us-central1-a}
VM=${VM:-xgan}
MACHINE=${MACHINE:-n1-standard-8}
GPU=${GPU:-nvidia-tesla-t4}
GPUS=${GPUS:-1}
WORKERS=${WORKERS:-2}
# A Deep Learning VM image with CUDA; list current ones with:
#   gcloud compute images list --project deeplearning-platform-release --filter="family~common-cu"
IMAGE_FAMILY=${IMAGE_FAMILY:-common-cu124-debian-11-py310}
REPO=${REPO:-https://github.com/YOUR_NAME/xgan.git}
RUN="gs://$BUCKET/runs/xgan"
MULTI_RUN="gs://$BUCKET/runs/xgan-multiworker"
TRAIN="python train.py --models gs://$BUCKET/models --data-dir gs://$BUCKET/data"
POLL_SECONDS=${POLL_SECONDS:-60}
WAIT_HOURS=${WAIT_HOURS:-6}
STARTED_FILE=".gcp-$VM-started"  # when "train" last started the run: "wait" waits for models written after it

run() {
    if [ "${DRY_RUN:-0}" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}

on_vm() {  # on_vm VM COMMAND: run a shell command on a VM
    run gcloud compute ssh "$1" --zone "$ZONE" --command "$2"
}

create_vm() {  # create_vm NAME
    # Spot VMs cost less but can be preempted: train.py saves a checkpoint on the SIGTERM they get.
    run gcloud compute instances create "$1" --zone "$ZONE" --machine-type "$MACHINE" \
        --accelerator "type=$GPU,count=$GPUS" --maintenance-policy TERMINATE \
        --provisioning-model SPOT --instance-termination-action STOP \
        --image-family "$IMAGE_FAMILY" --image-project deeplearning-platform-release \
        --boot-disk-size 100GB --metadata install-nvidia-driver=True --scopes storage-rw
}

setup_vm() {  # setup_vm NAME: the project and the GPU build of TensorFlow
    on_vm "$1" "git clone $REPO xgan || git -C xgan pull; cd xgan && python -m pip install -q -r requirements.txt 'tensorflow[and-cuda]'"
}

create() {
    run gcloud storage buckets create "gs://$BUCKET" --location "${ZONE%-*}" || true
    run gcloud storage cp -r train1 train2 val1 val2 test1 test2 "gs://$BUCKET/data/"
    create_vm "$VM"
    setup_vm "$VM"
    # The default recipe: on a GPU "auto" picks float16 and XLA, so 42 epochs (docs/gcp.md: time)
    on_vm "$VM" "cd xgan && python model.py --out gs://$BUCKET/models"
}

train() {
    # The same command starts a run and resumes it: the checkpoints are in the bucket. After a
    # preemption: gcloud compute instances start $VM --zone $ZONE, then this again.
    run gcloud compute instances start "$VM" --zone "$ZONE"
    if [ "${DRY_RUN:-0}" != 1 ]; then now > "$STARTED_FILE"; fi
    on_vm "$VM" "cd xgan && nohup $TRAIN --out $RUN --strategy mirrored > train.log 2>&1 &"
    echo "watch: gcloud compute ssh $VM --zone $ZONE --command 'tail -f xgan/train.log'; tensorboard --logdir $RUN"
}

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

written_after() {  # written_after FILE TIME: whether the bucket's FILE was written at TIME or later
    local written
    written=$(gcloud storage ls -l "$1" 2>/dev/null | awk 'NR == 1 {print $2}')
    [ -n "$written" ] && [[ ! "$written" < "$2" ]]
}

wait_for() {  # wait_for RUN_FOLDER SINCE: until train.py has saved trained models there (its last step) after SINCE
    # models/config.json is written last; one left by an earlier run, older than SINCE, does not count
    local done_file="$1/models/config.json" since="$2" waited=0
    if [ "${DRY_RUN:-0}" = 1 ]; then printf '+ wait until %s is written after the run started\n' "$done_file"; return; fi
    until written_after "$done_file" "$since"; do
        if [ $((waited += POLL_SECONDS)) -gt $((WAIT_HOURS * 3600)) ]; then
            echo "gave up waiting for $done_file (written after $since) after $WAIT_HOURS hours (WAIT_HOURS); the VMs are left running" >&2
            exit 1
        fi
        sleep "$POLL_SECONDS"
    done
}

multiworker() {
    MULTI_STARTED=$(now)
    # One process per VM; TF_CONFIG tells each the cluster and its own place in it (worker 0 is the chief).
    local hosts=() i
    for ((i = 0; i < WORKERS; i++)); do hosts+=("\"$VM-$i:12345\""); done
    local cluster
    cluster=$(IFS=,; echo "{\"worker\": [${hosts[*]}]}")
    for ((i = 0; i < WORKERS; i++)); do
        create_vm "$VM-$i"
        setup_vm "$VM-$i"
    done
    for ((i = 0; i < WORKERS; i++)); do
        on_vm "$VM-$i" "cd xgan && TF_CONFIG='{\"cluster\": $cluster, \"task\": {\"type\": \"worker\", \"index\": $i}}' nohup $TRAIN --out $MULTI_RUN --strategy multiworker > train.log 2>&1 &"
    done
}

fetch() {
    run gcloud storage cp -r "$RUN/models" "$RUN/samples" "$RUN/log.csv" "$RUN/loss_curves.png" runs_from_gcp/
    run python translate.py --models runs_from_gcp/models
}

delete() {  # the single VM and the multi-worker ones, whichever exist
    local i names=("$VM")
    for ((i = 0; i < WORKERS; i++)); do names+=("$VM-$i"); done
    for name in "${names[@]}"; do
        run gcloud compute instances delete "$name" --zone "$ZONE" --quiet || true
    done
}

wait_for_train() {  # "wait": for the run that "train" last started from this computer
    [ -f "$STARTED_FILE" ] || { echo "run \"train\" first: $STARTED_FILE holds when it started the run" >&2; exit 2; }
    wait_for "$RUN" "$(cat "$STARTED_FILE")"
}

stop_vm() {  # the single VM, once its run is fetched: the multi-worker phase does not need it
    run gcloud compute instances stop "$VM" --zone "$ZONE"
}

# Each step waits for what it needs: fetch for this run's trained models, delete for the multi-worker run's.
all() {
    local since
    create; since=$(now); train; wait_for "$RUN" "$since"; fetch; stop_vm
    multiworker; wait_for "$MULTI_RUN" "$MULTI_STARTED"; delete
}

case "${1:-}" in
    create | train | multiworker | fetch | delete | all) "$1" ;;
    wait) wait_for_train ;;
    *) echo "usage: BUCKET=name bash docs/gcp.sh create|train|wait|fetch|multiworker|delete|all (DRY_RUN=1 to print only)"; exit 2 ;;
esac
