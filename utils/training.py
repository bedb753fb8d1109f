"""The training step and the loop around it."""
import csv
import math
import os
import signal
import sys
import time

import keras
import tensorflow as tf

from utils import checkpoints, data, distribute, evaluation, images, losses, networks, runs
from utils.augment import augment
from utils.ema import MovingAverage
from utils.layers import jitter
from utils.networks import DOMAINS

# L_gen: the weighted sum
LOSS_NAMES = ("L_rec", "L_edge", "L_dann", "L_align", "L_sem", "L_gan", "L_col", "L_sharp", "L_gen", "L_disc",
              "disc_acc")
SHOWN = ("L_rec", "L_dann", "L_sem", "L_gan", "disc_acc")  # on the progress bar
OTHER = {"real": "manga", "manga": "real"}
QUALITY_TRAIN_FACES = 1000  # per domain, for the classifier of the per-epoch quality measure


def make_train_step(model, optimizers, average, config, strategy=None):
    """A compiled step that updates the XGAN (and domain classifier) and the discriminators in parallel, then
    the moving average of the autoencoders' weights (`average`, an ema.MovingAverage). `optimizers`:
    make_optimizers' (generator, discriminators[, decoders]).

    It runs on every replica of `strategy` (by default the current one: one device unless inside a
    tf.distribute scope), each on its share of the global batch; the returned terms are global means.
    """
    strategy = strategy or tf.distribute.get_strategy()
    encoder = {d: model.encoder(d) for d in DOMAINS}
    decoder = {d: model.decoder(d) for d in DOMAINS}
    judged = networks.gan_domains(config)
    sharpened = networks.chosen_domains(config.sharp_domains) if config.w_sharp else ()
    gen_optimizer, disc_optimizer, *dec_optimizers = optimizers  # dec_optimizers: none or one
    gen_vars = model.xgan.trainable_variables + model.domain_classifier.trainable_variables
    dec_vars = []
    if dec_optimizers:  # the decoders' weights move to their own Adam
        own = {id(v) for d in DOMAINS for v in decoder[d].trainable_variables}
        dec_vars, gen_vars = [v for v in gen_vars if id(v) in own], [v for v in gen_vars if id(v) not in own]
    disc_vars = [v for d in judged for v in model.discriminators[d].trainable_variables]
    with strategy.scope():  # the optimizers' slots next to the weights they update
        gen_optimizer.build(gen_vars)
        disc_optimizer.build(disc_vars)
        for optimizer in dec_optimizers:
            optimizer.build(dec_vars)

    def replica_step(x_real, x_manga, step, ramp, col_ramp):
        # 1. encode both domains into the shared embedding;
        # 2. decode each embedding (with --emb-noise, jittered) with both decoders: reconstructions and
        #    translations (one call per decoder, so batch normalization sees the same mix as at test time);
        # 3. re-encode the translations with the other domain's encoder (L_sem); with w_sharp, half of the
        #    faces blurred, encoded by the other domain's encoder and drawn by their own decoder (L_sharp);
        # 4. classify the domain of each embedding through the gradient reversal (L_dann); with w_align,
        #    compare the two domains' code statistics (L_align);
        # 5. each discriminator judges real faces of its domain and translations into it, both augmented
        #    alike (L_gan, L_disc with its R1 penalty).
        x, seed = {"real": x_real, "manga": x_manga}, tf.stack([tf.constant(config.seed, tf.int64), step])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            emb = {d: encoder[d](x[d], training=True) for d in DOMAINS}
            # seeds of their own: seed and seed + 1 draw the augmentations
            noisy = {d: jitter(emb[d], config.emb_noise, seed + 2 + i) for i, d in enumerate(DOMAINS)}
            rec, fake = {}, {}  # fake[d]: the other domain's faces translated into domain d
            for d in DOMAINS:
                rec[d], fake[d] = tf.split(decoder[d](tf.concat([noisy[d], noisy[OTHER[d]]], 0), training=True), 2)
            emb_again = {d: encoder[OTHER[d]](fake[OTHER[d]], training=True) for d in DOMAINS}
            half = {d: x[d][:tf.shape(x[d])[0] // 2] for d in sharpened}
            sharp = {d: decoder[d](encoder[OTHER[d]](losses.blur(half[d]), training=True), training=True)
                     for d in half}
            judged_by = {d: losses.judge(model.discriminators[d], augment(x[d], config.augment, seed),
                                         augment(fake[d], config.augment, seed + 1), config.r1) for d in judged}

            terms = {
                "L_rec": losses.reconstruction_loss(x, rec),
                "L_edge": losses.edge_loss(x, rec),
                "L_dann": losses.domain_adversarial_loss(model.domain_classifier, emb, ramp * config.w_d),
                "L_align": losses.alignment_loss(emb) if config.w_align else tf.zeros([]),
                "L_sem": losses.semantic_loss(emb, emb_again),
                "L_gan": sum(losses.generator_gan_loss(judged_by[d][1], config.gan_loss) for d in judged),
                "L_col": losses.chroma_loss({d: x[OTHER[d]] for d in DOMAINS}, fake),
                "L_sharp": losses.sharpening_loss(half, sharp) if half else tf.zeros([]),
            }
            gen_loss = (config.w_rec * terms["L_rec"] + config.w_edge * terms["L_edge"] + terms["L_dann"]
                        + ramp * (config.w_align * terms["L_align"] + config.w_s * terms["L_sem"]
                                  + config.w_g * terms["L_gan"])
                        + col_ramp * config.w_col * terms["L_col"] + ramp * config.w_sharp * terms["L_sharp"])
            disc_loss = sum(losses.discriminator_loss(real, fake, config.gan_loss) + r1
                            for real, fake, r1 in judged_by.values())
            # Each replica's loss is the mean over its share of the batch and the optimizers sum the
            # replicas' gradients: divided by the replica count, that is the gradient of the global mean.
            # scale_loss multiplies by the loss scale under float16 (apply_gradients divides it out again).
            replicas = strategy.num_replicas_in_sync
            gen_scaled = gen_optimizer.scale_loss(gen_loss / replicas)
            disc_scaled = disc_optimizer.scale_loss(disc_loss / replicas)

        gen_grads = gen_tape.gradient(gen_scaled, gen_vars + dec_vars)
        gen_optimizer.apply_gradients(zip(gen_grads[:len(gen_vars)], gen_vars))
        for optimizer in dec_optimizers:  # under float16 its own loss scale: rescaled from the generator's
            rescale = optimizer.scale_loss(1.0) / gen_optimizer.scale_loss(1.0)
            optimizer.apply_gradients((g * rescale, v) for g, v in zip(gen_grads[len(gen_vars):], dec_vars))
        disc_optimizer.apply_gradients(zip(disc_tape.gradient(disc_scaled, disc_vars), disc_vars))
        terms["L_gen"], terms["L_disc"] = gen_loss, disc_loss
        terms["disc_acc"] = tf.add_n([losses.discriminator_accuracy(real, fake, config.gan_loss)
                                      for real, fake, _ in judged_by.values()]) / len(judged)
        return terms

    @tf.function(jit_compile=config.jit_compile and distribute.one_device(strategy))
    def train_step(x_real, x_manga, step, ramp, col_ramp):
        terms = strategy.run(replica_step, args=(x_real, x_manga, step, ramp, col_ramp))
        average.update(step)
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for name, value in terms.items()}

    return train_step


def learning_rates(config):
    """The base rates of make_optimizers' optimizers, in their order."""
    return (config.learning_rate, config.disc_learning_rate) + ((config.decoder_learning_rate,)
                                                                if config.decoder_learning_rate else ())


def make_optimizers(config, strategy=None):
    """Adam for the generator (with the domain classifier), for the discriminators and, with
    --decoder-learning-rate, for the decoders, in `strategy`'s scope."""
    with (strategy or tf.distribute.get_strategy()).scope():
        optimizers = tuple(keras.optimizers.Adam(rate, beta_1=config.beta_1) for rate in learning_rates(config))
        if keras.mixed_precision.global_policy().name == "mixed_float16":  # float16 gradients underflow unscaled
            optimizers = tuple(keras.optimizers.LossScaleOptimizer(o) for o in optimizers)
        return optimizers


def make_training(model, config, strategy=None):
    """(train_step, make_optimizers' optimizers, moving average), in `strategy`'s scope;
    train_step(x_real, x_manga, step, ramp, col_ramp) with step an int64 and the ramps (weight_ramps) float32
    scalars."""
    optimizers = make_optimizers(config, strategy)
    with (strategy or tf.distribute.get_strategy()).scope():
        average = MovingAverage(model.xgan.weights, config.ema)
    return make_train_step(model, optimizers, average, config, strategy), optimizers, average


def weight_ramps(step, steps_per_epoch, config):
    """(ramp, col_ramp): the factors of w_d, w_s, w_g and of w_col at `step`. Both rise linearly from 0 over
    warmup_epochs; col_ramp drops to 0 after col_epochs (0: never)."""
    # The autoencoders learn first: alignment pressure on a still meaningless embedding collapses it.
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    ramp = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    # L_col anchors each face's colours early; after that the decoders may draw more freely (h1o6).
    colour_on = not config.col_epochs or step < round(config.col_epochs * steps_per_epoch)
    return ramp, ramp if colour_on else 0.0


def rate_factor(step, total_steps, steps_per_epoch, config):
    """The factor of every learning rate at `step`: 1, then falling linearly to 0 at total_steps over the last
    decay_epochs (0: always 1)."""
    decay_steps = round(config.decay_epochs * steps_per_epoch)
    return min(1.0, (total_steps - step) / decay_steps) if decay_steps else 1.0


class TimeLeft:
    """Minutes left in the run, from this start's wall time per step so far (the epoch ends' samples, quality
    measures and checkpoints included), once an epoch has been timed (`timed`)."""

    def __init__(self, step, total_steps):
        self.start, self.first, self.total, self.timed = time.perf_counter(), step, total_steps, False

    def minutes(self, step):
        if not self.timed or step <= self.first:
            return None
        return (time.perf_counter() - self.start) / (step - self.first) * (self.total - step) / 60


class TrainingStopped(Exception):
    """Training stopped before its end: by a signal (after a checkpoint) or by a NaN/Inf loss (without one)."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def fit(model, config, files=None, log=print, fresh=False, strategy=None):
    """Train `model` on config.data_dir, going on from the run folder's latest checkpoint unless `fresh`.

    The run folder (config.out) gets config.json, checkpoints/, log.csv (loss terms every log_every steps,
    quality of the validation faces at epoch ends), loss_curves.png, samples/epoch_NNN.png, tensorboard/ and at
    the end models/ for translate.py (the moving-average weights). `files`: what data.run_files returns, if
    the caller checked the data already. `strategy`: the tf.distribute strategy whose scope `model` was
    built in (default: the current one); in a cluster only the chief worker logs and writes files.
    Returns the log rows.
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = distribute.is_chief(strategy)
    log = log if chief else (lambda line: None)
    files, val_files = files or data.run_files(config, log)
    run = lambda *parts: os.path.join(config.out, *parts)  # noqa: E731
    if fresh and chief:
        runs.empty(config.out)
    distribute.barrier(strategy)  # the other workers look for checkpoints only once the chief has emptied the folder

    keras.utils.set_random_seed(config.seed)
    steps = data.steps_per_epoch(files, config)
    total_steps = steps * config.epochs if not config.max_steps else min(config.max_steps, steps * config.epochs)
    train_step, optimizers, average = make_training(model, config, strategy)
    write_dir = distribute.write_dir(config.out, strategy)
    state = checkpoints.TrainingState(model, optimizers, average, config.out, config, save_dir=write_dir)
    resumed = state.restore_latest()
    start = time.perf_counter()
    dataset = data.training_dataset(files, config, start_step=resumed or 0)
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    log(f"{len(files['real'])} real + {len(files['manga'])} manga training faces ready in "
        f"{time.perf_counter() - start:.0f} s: {config.epochs} epochs of {steps} steps of {config.batch_size}, "
        f"{total_steps} steps in all, computed in {keras.mixed_precision.global_policy().name}, XLA "
        f"{'on' if config.jit_compile and distribute.one_device(strategy) else 'off'}; the minutes left are told "
        f"once the first epoch is timed")
    quality = _quality_monitor(config, files, val_files, log) if chief and config.quality_every else None
    samples = {d: data.load_images(val_files[d][:config.sample_count], d, config) for d in DOMAINS}

    if chief:
        tf.io.gfile.makedirs(run("samples"))
        runs.record_start(config.out, config, resumed or 0)
    rows = [row for row in _read_rows(run("log.csv")) if row["step"] <= (resumed or 0)]
    if resumed is not None:
        log(f"resuming from the checkpoint of step {resumed} in {run(checkpoints.CHECKPOINT_DIR)}/ "
            f"(--fresh starts over)")
    writer = tf.summary.create_file_writer(run("tensorboard")) if chief else tf.summary.create_noop_writer()

    with checkpoints.StopSignals() as signals, writer.as_default():
        step = int(state.step)
        left = TimeLeft(step, total_steps)
        while step < total_steps:
            epoch = step // steps + 1
            log(f"epoch {epoch}/{config.epochs}")
            bar = keras.utils.Progbar(min(steps, total_steps - (epoch - 1) * steps),
                                      verbose=1 if sys.stdout.isatty() else 2,
                                      stateful_metrics=["images/s", "min_left"])
            sums, count, start = {name: 0.0 for name in LOSS_NAMES}, 0, time.perf_counter()
            epoch_start, epoch_first_step = start, step
            while step < min(epoch * steps, total_steps):
                ramps = [tf.constant(r, tf.float32) for r in weight_ramps(step, steps, config)]
                # every step, decay or not: the rates are checkpointed, and a run may go on with another decay
                for optimizer, rate in zip(optimizers, learning_rates(config)):
                    optimizer.learning_rate = rate * rate_factor(step, total_steps, steps, config)
                x_real, x_manga = next(batches)
                terms = {k: float(v) for k, v in train_step(x_real, x_manga, tf.constant(step, tf.int64),
                                                            *ramps).items()}
                _stop_if_not_finite(terms, step + 1, state)
                step = int(state.step.assign_add(1))
                sums, count = {k: sums[k] + terms[k] for k in sums}, count + 1
                now = time.perf_counter()
                speed = 2 * config.batch_size * (step - epoch_first_step) / (now - epoch_start)
                minutes_left = left.minutes(step)
                bar.update(step - (epoch - 1) * steps, [(k, terms[k]) for k in SHOWN] + [("images/s", speed)]
                           + ([("min_left", minutes_left)] if minutes_left is not None else []))
                if chief and (step % config.log_every == 0 or step == min(epoch * steps, total_steps)):
                    state.seconds.assign_add(now - start)
                    rows.append({"epoch": epoch, "step": step, "train_minutes": float(state.seconds) / 60,
                                 **{k: v / count for k, v in sums.items()},
                                 "images_per_s": 2 * config.batch_size * count / (now - start),
                                 **({"minutes_left": minutes_left} if minutes_left is not None else {})})
                    _write_summaries(rows[-1], optimizers)
                    _write_rows(rows, run("log.csv"))
                    sums, count, start = {name: 0.0 for name in LOSS_NAMES}, 0, time.perf_counter()
                if state.due():
                    _stop_if_not_finite_weights(model, step, state)
                    state.save()
                # A cluster stops together: the save is collective, and a worker saving alone would hang.
                if distribute.any_worker(strategy, signals.received is not None):
                    state.save()
                    received = signals.received or "SIGTERM"  # here, or on another worker of the cluster
                    raise TrainingStopped(f"{signals.received or 'a stop on another worker'} received: checkpoint "
                                          f"of step {step} saved in {run(checkpoints.CHECKPOINT_DIR)}/. Run the same "
                                          f"command again to go on.", 128 + getattr(signal, received))
            _stop_if_not_finite_weights(model, step, state)
            state.save()
            if chief:
                with average.applied():  # samples and quality of the weights translation will use
                    measure = quality and (epoch % config.quality_every == 0 or step == total_steps)
                    _epoch_end_files(model, epoch, step, rows, samples, quality if measure else None, run)
                writer.flush()
            left.timed = True
            start = time.perf_counter()

    with average.applied():  # the average is in the live model's weights, so a rebuild copies it (mp1)
        if keras.mixed_precision.global_policy().name != "float32":  # saved models compute in float32
            distribute.set_mixed_precision(False)
            with strategy.scope():
                model = networks.rebuild(model)
        model.save(os.path.join(write_dir, "models"))
    distribute.discard(write_dir, strategy)
    log(f"trained models saved in {run('models')}/")
    return rows


def _quality_monitor(config, files, val_files, log):
    """The per-epoch quality measure of the validation faces (evaluation.EpochQuality), its classifier trained
    on up to 1,000 training faces of each domain."""
    start = time.perf_counter()
    pick = lambda paths: paths[:: max(1, len(paths) // QUALITY_TRAIN_FACES)][:QUALITY_TRAIN_FACES]  # noqa: E731
    load = lambda chosen: {d: data.load_images(chosen[d], d, config) for d in DOMAINS}  # noqa: E731
    monitor = evaluation.EpochQuality(load(val_files), load({d: pick(files[d]) for d in DOMAINS}),
                                      config.quality_features, config.seed, log)
    log(f"quality measure ready in {time.perf_counter() - start:.0f} s")
    return monitor


def _epoch_end_files(model, epoch, step, rows, samples, quality, run):
    """The sample grid and loss curves; with `quality`, the quality of the validation faces in the epoch's last
    row."""
    grid = images.sample_grid(model, samples["real"], samples["manga"])
    images.save_png(grid, run("samples", f"epoch_{epoch:03d}.png"))
    tf.summary.image("samples", (grid[None] + 1) / 2, step=step,
                     description="rows: real, reconstruction, manga; manga, reconstruction, real")
    if quality:
        rows[-1].update(quality.measure(model))
        for name in evaluation.QUALITY_NAMES:
            tf.summary.scalar(f"quality/{name}", rows[-1][name], step=step)
        _write_rows(rows, run("log.csv"))
        print("quality: " + ", ".join(f"{k} {rows[-1][k]:.3f}" for k in evaluation.QUALITY_NAMES), flush=True)
    images.save_loss_curves(rows, run("loss_curves.png"))


def _stop_if_not_finite(terms, step, state):
    bad = [name for name, value in terms.items() if not math.isfinite(value)]
    if bad:
        latest = state.manager.latest_checkpoint or "none yet"
        raise TrainingStopped(f"{', '.join(bad)} became {terms[bad[0]]} at step {step}; training stopped. The latest "
                              f"checkpoint ({latest}) is from before and stays the latest. Lower the learning "
                              f"rates or the loss weights, then run the command again to go on from it.", 1)


def _stop_if_not_finite_weights(model, step, state):
    """A finite loss can still give a NaN update: check the weights before they go into a checkpoint."""
    weights = [w for network in model.parts().values() for w in network.weights]
    if not all(bool(tf.reduce_all(tf.math.is_finite(w))) for w in weights if tf.as_dtype(w.dtype).is_floating):
        _stop_if_not_finite({"a weight": math.nan}, step, state)


def _write_summaries(row, optimizers):
    for name in LOSS_NAMES:
        tf.summary.scalar(f"loss/{name}" if name.startswith("L_") else name, row[name], step=row["step"])
    tf.summary.scalar("images_per_s", row["images_per_s"], step=row["step"])
    for name, optimizer in zip(("generator", "discriminator", "decoders"), optimizers):
        tf.summary.scalar(f"learning_rate/{name}", float(optimizer.learning_rate.numpy()), step=row["step"])


def _write_rows(rows, path):
    # Written whole each time (a Cloud Storage object cannot be appended to), then renamed into place
    # so that a kill never leaves half a file.
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        names = list(dict.fromkeys(name for row in rows for name in row))  # quality columns: epoch ends only
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def _read_rows(path):
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return [{k: int(v) if k in ("epoch", "step") else float(v) for k, v in row.items() if v != ""}
                for row in csv.DictReader(f)]
