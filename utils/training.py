"""The training step and the loop around it."""
import csv
import os
import time

import keras
import tensorflow as tf

from utils import data, images, losses
from utils.networks import DOMAINS

LOSS_NAMES = ("L_rec", "L_dann", "L_sem", "L_gan", "L_disc", "disc_acc")


def make_train_step(model, gen_optimizer, disc_optimizer, config):
    """A compiled step that updates the XGAN (and domain classifier) and the discriminator in parallel."""
    encoder = {d: model.encoder(d) for d in DOMAINS}
    decoder = {d: model.decoder(d) for d in DOMAINS}
    gen_vars = model.xgan.trainable_variables + model.domain_classifier.trainable_variables
    disc_vars = model.discriminator.trainable_variables

    @tf.function
    def train_step(x_real, x_manga, ramp):
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

        gen_optimizer.apply_gradients(zip(gen_tape.gradient(gen_loss, gen_vars), gen_vars))
        disc_optimizer.apply_gradients(zip(disc_tape.gradient(disc_loss, disc_vars), disc_vars))
        terms["L_disc"] = disc_loss
        terms["disc_acc"] = losses.discriminator_accuracy(logits_manga, logits_fake_manga)
        return terms

    return train_step


def make_optimizers(config):
    return (keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
            keras.optimizers.Adam(config.disc_learning_rate, beta_1=config.beta_1))


def fit(model, config, log=print):
    """Train `model` on config.data_dir; write the log, sample grids and trained models to config.out."""
    files = data.domain_files(config.data_dir, data.TRAIN_FOLDERS, min_count=config.batch_size)
    test_files = data.domain_files(config.data_dir, data.TEST_FOLDERS)
    samples = {d: data.load_images(test_files[d][:config.sample_count], d, config) for d in DOMAINS}
    os.makedirs(os.path.join(config.out, "samples"), exist_ok=True)
    config.save(os.path.join(config.out, "config.json"))

    steps = data.steps_per_epoch(files, config)
    total_steps = steps * config.epochs if not config.max_steps else min(config.max_steps, steps * config.epochs)
    log(f"{len(files['real'])} real + {len(files['manga'])} manga training faces: "
        f"{steps} steps of {config.batch_size} per epoch, {total_steps} steps in all")

    # The autoencoders learn first: alignment pressure on a still meaningless embedding collapses it.
    warmup_steps = round(config.warmup_epochs * steps)
    gen_optimizer, disc_optimizer = make_optimizers(config)
    train_step = make_train_step(model, gen_optimizer, disc_optimizer, config)
    batches = iter(data.training_dataset(files, config))

    history, step = [], 0
    for epoch in range(1, config.epochs + 1):
        sums, count, start = {name: 0.0 for name in LOSS_NAMES}, 0, time.perf_counter()
        for _ in range(steps):
            if step >= total_steps:
                break
            ramp = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
            x_real, x_manga = next(batches)
            terms = train_step(x_real, x_manga, tf.constant(ramp, tf.float32))
            for name, value in terms.items():
                sums[name] += float(value)
            count, step = count + 1, step + 1
        if not count:
            break
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "step": step, **{k: v / count for k, v in sums.items()},
               "images_per_s": 2 * config.batch_size * count / seconds}
        history.append(row)
        log(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        images.save_png(images.sample_grid(model, samples["real"], samples["manga"]),
                        os.path.join(config.out, "samples", f"epoch_{epoch:03d}.png"))
        _write_history(history, os.path.join(config.out, "log.csv"))

    model.save(os.path.join(config.out, "models"))
    log(f"trained models saved in {os.path.join(config.out, 'models')}/")
    return history


def _write_history(history, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
