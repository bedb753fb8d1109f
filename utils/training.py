"""The training step and the loop around it."""
import csv
import math
import os
import signal
import sys
import time

import keras
import tensorflow as tf

from utils import checkpoints, data, distribute, images, losses, networks
from utils.networks import DOMAINS

LOSS_NAMES = ("L_rec", "L_dann", "L_sem", "L_gan", "L_gen", "L_disc", "disc_acc")  # L_gen: the weighted sum
SHOWN = ("L_rec", "L_dann", "L_sem", "L_gan", "disc_acc")  # on the progress bar


def make_train_step(model, gen_optimizer, disc_optimizer, config, strategy=None):
    """A compiled step that updates the XGAN (and domain classifier) and the discriminator in parallel.

    It runs on every replica of `strategy` (by default the current one: one device unless inside a
    tf.distribute scope), each on its share of the global batch; the returned terms are global means.
    """
    strategy = strategy or tf.distribute.get_strategy()
    encoder = {d: model.encoder(d) for d in DOMAINS}
    decoder = {d: model.decoder(d) for d in DOMAINS}
    gen_vars = model.xgan.trainable_variables + model.domain_classifier.trainable_variables
    disc_vars = model.discriminator.trainable_variables
    with strategy.scope():  # the optimizers' slots next to the weights they update
        gen_optimizer.build(gen_vars)
        disc_optimizer.build(disc_vars)

    def replica_step(x_real, x_manga, ramp):
        # 1. encode both domains into the shared embedding;
        # 2. decode each embedding with both decoders: reconstructions and translations (one call per
        #    decoder, so batch normalization sees the same mix as at test time);
        # 3. re-encode the translations with the other domain's encoder (L_sem);
        # 4. classify the domain of each embedding through the gradient reversal (L_dann);
        # 5. the discriminator judges real manga and real->manga translations (L_gan, L_disc).
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            emb_real = encoder["real"](x_real, training=True)
            emb_manga = encoder["manga"](x_manga, training=True)
            rec_real, fake_real = tf.split(decoder["real"](tf.concat([emb_real, emb_manga], 0), training=True), 2)
            rec_manga, fake_manga = tf.split(decoder["manga"](tf.concat([emb_manga, emb_real], 0), training=True), 2)
            emb_real_again = encoder["manga"](fake_manga, training=True)
            emb_manga_again = encoder["real"](fake_real, training=True)
            logits_manga = model.discriminator(x_manga, training=True)
            logits_fake_manga = model.discriminator(fake_manga, training=True)

            terms = {
                "L_rec": losses.reconstruction_loss(x_real, rec_real, x_manga, rec_manga),
                "L_dann": losses.domain_adversarial_loss(model.domain_classifier, emb_real, emb_manga,
                                                         ramp * config.w_d),
                "L_sem": losses.semantic_loss(emb_real, emb_real_again, emb_manga, emb_manga_again),
                "L_gan": losses.generator_gan_loss(logits_fake_manga),
            }
            gen_loss = (config.w_rec * terms["L_rec"] + terms["L_dann"]
                        + ramp * (config.w_s * terms["L_sem"] + config.w_g * terms["L_gan"]))
            disc_loss = losses.discriminator_loss(logits_manga, logits_fake_manga)
            # Each replica's loss is the mean over its share of the batch and the optimizers sum the
            # replicas' gradients: divided by the replica count, that is the gradient of the global mean.
            # scale_loss multiplies by the loss scale under float16 (apply_gradients divides it out again).
            replicas = strategy.num_replicas_in_sync
            gen_scaled = gen_optimizer.scale_loss(gen_loss / replicas)
            disc_scaled = disc_optimizer.scale_loss(disc_loss / replicas)

        gen_optimizer.apply_gradients(zip(gen_tape.gradient(gen_scaled, gen_vars), gen_vars))
        disc_optimizer.apply_gradients(zip(disc_tape.gradient(disc_scaled, disc_vars), disc_vars))
        terms["L_gen"], terms["L_disc"] = gen_loss, disc_loss
        terms["disc_acc"] = losses.discriminator_accuracy(logits_manga, logits_fake_manga)
        return terms

    @tf.function(jit_compile=config.jit_compile and distribute.one_device(strategy))
    def train_step(x_real, x_manga, ramp):
        terms = strategy.run(replica_step, args=(x_real, x_manga, ramp))
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for name, value in terms.items()}

    return train_step


def make_optimizers(config, strategy=None):
    """Adam for the generator (with the domain classifier) and for the discriminator, in `strategy`'s scope."""
    with (strategy or tf.distribute.get_strategy()).scope():
        optimizers = (keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
                      keras.optimizers.Adam(config.disc_learning_rate, beta_1=config.beta_1))
        if keras.mixed_precision.global_policy().name == "mixed_float16":  # float16 gradients underflow unscaled
            optimizers = tuple(keras.optimizers.LossScaleOptimizer(o) for o in optimizers)
        return optimizers


class TrainingStopped(Exception):
    """Training stopped before its end: by a signal (after a checkpoint) or by a NaN/Inf loss (without one)."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


# What a run folder holds; --fresh removes these (and only these) before starting over.
RUN_FILES = ("config.json", "log.csv", "loss_curves.png", "samples", "tensorboard", "models",
             checkpoints.CHECKPOINT_DIR)


def fit(model, config, files=None, log=print, fresh=False, strategy=None):
    """Train `model` on config.data_dir, going on from the run folder's latest checkpoint unless `fresh`.

    The run folder (config.out) gets config.json, checkpoints/, log.csv, loss_curves.png,
    samples/epoch_NNN.png, tensorboard/ and at the end models/ for translate.py. `files`: what
    data.run_files returns, if the caller checked the data already. `strategy`: the tf.distribute
    strategy whose scope `model` was built in (default: the current one); in a cluster only the chief
    worker logs and writes files. Returns the log rows.
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = distribute.is_chief(strategy)
    log = log if chief else (lambda line: None)
    files, test_files = files or data.run_files(config, log)
    samples = {d: data.load_images(test_files[d][:config.sample_count], d, config) for d in DOMAINS}
    run = lambda *parts: os.path.join(config.out, *parts)  # noqa: E731
    if fresh and chief:
        for name in RUN_FILES:
            if tf.io.gfile.exists(run(name)):
                tf.io.gfile.rmtree(run(name)) if tf.io.gfile.isdir(run(name)) else tf.io.gfile.remove(run(name))

    keras.utils.set_random_seed(config.seed)
    steps = data.steps_per_epoch(files, config)
    total_steps = steps * config.epochs if not config.max_steps else min(config.max_steps, steps * config.epochs)
    # The autoencoders learn first: alignment pressure on a still meaningless embedding collapses it.
    warmup_steps = round(config.warmup_epochs * steps)
    optimizers = make_optimizers(config, strategy)
    train_step = make_train_step(model, *optimizers, config, strategy)
    batches = iter(strategy.experimental_distribute_dataset(data.training_dataset(files, config)))
    write_dir = distribute.write_dir(config.out, strategy)
    state = checkpoints.TrainingState(model, optimizers, batches, config.out, config, save_dir=write_dir)
    resumed = state.restore_latest()

    if chief:
        tf.io.gfile.makedirs(run("samples"))
        config.save(run("config.json"))
    log(f"{len(files['real'])} real + {len(files['manga'])} manga training faces: "
        f"{steps} steps of {config.batch_size} per epoch, {total_steps} steps in all")
    rows = [row for row in _read_rows(run("log.csv")) if row["step"] <= (resumed or 0)]
    if resumed is not None:
        log(f"resuming from the checkpoint of step {resumed} in {run(checkpoints.CHECKPOINT_DIR)}/ "
            f"(--fresh starts over)")
    writer = tf.summary.create_file_writer(run("tensorboard")) if chief else tf.summary.create_noop_writer()

    with checkpoints.StopSignals() as signals, writer.as_default():
        step = int(state.step)
        while step < total_steps:
            epoch = step // steps + 1
            log(f"epoch {epoch}/{config.epochs}")
            bar = keras.utils.Progbar(min(steps, total_steps - (epoch - 1) * steps),
                                      verbose=1 if sys.stdout.isatty() else 2, stateful_metrics=["images/s"])
            sums, count, start = {name: 0.0 for name in LOSS_NAMES}, 0, time.perf_counter()
            epoch_start, epoch_first_step = start, step
            while step < min(epoch * steps, total_steps):
                ramp = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
                terms = {k: float(v) for k, v in train_step(*next(batches), tf.constant(ramp, tf.float32)).items()}
                _stop_if_not_finite(terms, step + 1, state)
                step = int(state.step.assign_add(1))
                sums, count = {k: sums[k] + terms[k] for k in sums}, count + 1
                speed = 2 * config.batch_size * (step - epoch_first_step) / (time.perf_counter() - epoch_start)
                bar.update(step - (epoch - 1) * steps, [(k, terms[k]) for k in SHOWN] + [("images/s", speed)])
                if chief and (step % config.log_every == 0 or step == min(epoch * steps, total_steps)):
                    rows.append({"epoch": epoch, "step": step, **{k: v / count for k, v in sums.items()},
                                 "images_per_s": 2 * config.batch_size * count / (time.perf_counter() - start)})
                    _write_summaries(rows[-1], optimizers)
                    _write_rows(rows, run("log.csv"))
                    sums, count, start = {name: 0.0 for name in LOSS_NAMES}, 0, time.perf_counter()
                if state.due():
                    _stop_if_not_finite_weights(model, step, state)
                    state.save()
                if signals.received:
                    state.save()
                    raise TrainingStopped(f"{signals.received} received: checkpoint of step {step} saved in "
                                          f"{run(checkpoints.CHECKPOINT_DIR)}/. Run the same command again to "
                                          f"go on.", 128 + getattr(signal, signals.received))
            _stop_if_not_finite_weights(model, step, state)
            state.save()
            if not chief:
                continue
            grid = images.sample_grid(model, samples["real"], samples["manga"])
            images.save_png(grid, run("samples", f"epoch_{epoch:03d}.png"))
            tf.summary.image("samples", (grid[None] + 1) / 2, step=step,
                             description="rows: real, reconstruction, manga; manga, reconstruction, real")
            images.save_loss_curves(rows, run("loss_curves.png"))
            writer.flush()

    if keras.mixed_precision.global_policy().name != "float32":  # saved models compute in float32
        keras.mixed_precision.set_global_policy("float32")
        with strategy.scope():
            model = networks.rebuild(model)
    model.save(os.path.join(write_dir, "models"))
    distribute.discard(write_dir, strategy)
    log(f"trained models saved in {run('models')}/")
    return rows


def _stop_if_not_finite(terms, step, state):
    bad = [name for name, value in terms.items() if not math.isfinite(value)]
    if bad:
        latest = state.manager.latest_checkpoint or "none yet"
        raise TrainingStopped(f"{', '.join(bad)} became {terms[bad[0]]} at step {step}; training stopped. The latest "
                              f"checkpoint ({latest}) is from before and stays the latest. Lower the learning "
                              f"rates or the loss weights, then run the command again to go on from it.", 1)


def _stop_if_not_finite_weights(model, step, state):
    """A finite loss can still give a NaN update: check the weights before they go into a checkpoint."""
    weights = model.xgan.weights + model.discriminator.weights + model.domain_classifier.weights
    if not all(bool(tf.reduce_all(tf.math.is_finite(w))) for w in weights if tf.as_dtype(w.dtype).is_floating):
        _stop_if_not_finite({"a weight": math.nan}, step, state)


def _write_summaries(row, optimizers):
    for name in LOSS_NAMES:
        tf.summary.scalar(f"loss/{name}" if name.startswith("L_") else name, row[name], step=row["step"])
    tf.summary.scalar("images_per_s", row["images_per_s"], step=row["step"])
    for name, optimizer in zip(("generator", "discriminator"), optimizers):
        tf.summary.scalar(f"learning_rate/{name}", float(optimizer.learning_rate), step=row["step"])


def _write_rows(rows, path):
    # Written whole each time (a Cloud Storage object cannot be appended to), then renamed into place
    # so that a kill never leaves half a file.
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def _read_rows(path):
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return [{k: int(v) if k in ("epoch", "step") else float(v) for k, v in row.items()}
                for row in csv.DictReader(f)]
