"""Training state on disk, so that a run killed at any moment goes on where it stopped.

One tf.train.Checkpoint holds every network, every optimizer, the moving average, the step counter and
the training time, managed by tf.train.CheckpointManager (the data stream needs no state: it is fixed by
the seed and resumes at the step, data.training_dataset). TensorFlow writes a
checkpoint under temporary names and only then points the `checkpoint` index file at it, so a kill
in the middle of a save leaves the previous checkpoint the latest.
"""
import os
import signal

import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"


class TrainingState:
    def __init__(self, model, optimizers, average, run_dir, config, save_dir=None):
        """Checkpoints are read from RUN_DIR/checkpoints and written to SAVE_DIR/checkpoints (by default
        the same; a cluster's non-chief workers write to scratch folders but all resume from the chief's)."""
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds")  # training time so far
        self.checkpoint = tf.train.Checkpoint(
            **model.parts(), **dict(zip(("gen_optimizer", "disc_optimizer", "dec_optimizer"), optimizers)),
            average=average, step=self.step, seconds=self.seconds)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(save_dir or run_dir, CHECKPOINT_DIR), max_to_keep=config.keep_checkpoints)
        self.restore_dir = os.path.join(run_dir, CHECKPOINT_DIR)
        self.every = config.checkpoint_every

    def restore_latest(self):
        """Restore the latest checkpoint if there is one; its step, or None."""
        latest = tf.train.latest_checkpoint(self.restore_dir)
        if latest is None:
            return None
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise CheckpointMismatch(
                f"The checkpoint {latest} does not fit the models being trained ({str(error).splitlines()[0]}). "
                f"It was written for other models or other training folders: pass --fresh to start this run "
                f"over, or --out for a new run folder.") from None
        self.saved_step = int(self.step)
        return int(self.step)

    # In a cluster every worker takes part in each save (a collective operation), so whether to save is
    # decided from the global step alone, never from what a worker's own folder holds.
    saved_step = None

    def due(self):
        """Whether the step is a multiple of checkpoint_every."""
        return int(self.step) % self.every == 0

    def save(self):
        """Write a checkpoint named after the step, unless this run wrote or restored one at this step."""
        if self.saved_step != int(self.step):
            self.manager.save(checkpoint_number=self.step)
            self.saved_step = int(self.step)


class CheckpointMismatch(ValueError):
    pass


class StopSignals:
    """Turn SIGTERM (a preempted VM) and SIGINT (Ctrl-C) into a request the loop answers at the next step.

    A second signal stops at once, for a user who does not want to wait.
    """
    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received = None

    def _handle(self, signum, frame):
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def __enter__(self):
        self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
