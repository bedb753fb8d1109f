import dataclasses
import os

import numpy as np
import tensorflow as tf

from utils import data
from utils.networks import build, load
from utils.training import fit, make_optimizers, make_train_step


def _batches(config, seed=0):
    rng = np.random.default_rng(seed)
    shape = (config.batch_size, config.image_size, config.image_size, 3)
    return tf.constant(rng.uniform(-1, 1, shape), tf.float32), tf.constant(rng.uniform(-1, 1, shape), tf.float32)


def _step(config):
    model = build(config)
    return model, make_train_step(model, *make_optimizers(config), config)


def _changed(variables, before):
    return [not np.array_equal(v.numpy(), b) for v, b in zip(variables, before)]


def test_one_step_changes_generator_and_discriminator(tiny_config):
    model, step = _step(tiny_config)
    gen, disc = model.xgan.trainable_variables, model.discriminator.trainable_variables
    gen_before, disc_before = [v.numpy() for v in gen], [v.numpy() for v in disc]
    terms = step(*_batches(tiny_config), tf.constant(1.0))
    assert set(terms) == {"L_rec", "L_dann", "L_sem", "L_gan", "L_gen", "L_disc", "disc_acc"}
    assert all(np.isfinite(v) for v in terms.values())
    assert all(_changed(gen, gen_before)) and all(_changed(disc, disc_before))


def test_xla_step_computes_what_the_plain_step_does(tiny_config):
    results = []
    for jit_compile in (False, True):
        model, step = _step(dataclasses.replace(tiny_config, jit_compile=jit_compile))
        terms = step(*_batches(tiny_config), tf.constant(1.0))
        results.append((terms, [v.numpy() for v in model.xgan.trainable_variables]))
    (plain_terms, plain_weights), (xla_terms, xla_weights) = results
    assert all(abs(float(plain_terms[k]) - float(xla_terms[k])) < 1e-4 for k in plain_terms)
    assert max(float(np.abs(a - b).max()) for a, b in zip(plain_weights, xla_weights)) < 1e-4


def test_discriminator_update_leaves_the_generator_untouched(tiny_config):
    # With the generator's learning rate at 0 only the discriminator's update acts.
    model, step = _step(dataclasses.replace(tiny_config, learning_rate=0.0))
    gen_before = [v.numpy() for v in model.xgan.trainable_variables]
    disc_before = [v.numpy() for v in model.discriminator.trainable_variables]
    step(*_batches(tiny_config), tf.constant(1.0))
    assert not any(_changed(model.xgan.trainable_variables, gen_before))
    assert all(_changed(model.discriminator.trainable_variables, disc_before))


def test_generator_update_leaves_the_discriminator_untouched(tiny_config):
    model, step = _step(dataclasses.replace(tiny_config, disc_learning_rate=0.0))
    disc_before = [v.numpy() for v in model.discriminator.trainable_variables]
    step(*_batches(tiny_config), tf.constant(1.0))
    assert not any(_changed(model.discriminator.trainable_variables, disc_before))


def test_reconstruction_loss_goes_down_on_a_few_images(tiny_config, tiny_data):
    config = dataclasses.replace(tiny_config, learning_rate=3e-3)
    model, step = _step(config)
    files = data.domain_files(tiny_data, data.TRAIN_FOLDERS)
    batches = iter(data.training_dataset(files, config))
    history = [float(step(*next(batches), tf.constant(1.0))["L_rec"]) for _ in range(80)]
    assert np.mean(history[-10:]) < 0.85 * np.mean(history[:10])


def test_fit_writes_log_samples_and_trained_models(tiny_config, tiny_data):
    config = dataclasses.replace(tiny_config, epochs=2)
    history = fit(build(config), config, log=lambda line: None)
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[-1]["step"] == 2 * (12 // config.batch_size)     # the larger folder (12 real faces) sets an epoch
    for name in ("config.json", "log.csv", "samples/epoch_001.png", "samples/epoch_002.png"):
        assert os.path.isfile(os.path.join(config.out, name)), name
    trained = load(os.path.join(config.out, "models"), how_to_make="python train.py")
    assert trained.config == config


def test_max_steps_stops_early(tiny_config, tiny_data):
    config = dataclasses.replace(tiny_config, epochs=3, max_steps=2)
    history = fit(build(config), config, log=lambda line: None)
    assert history[-1]["step"] == 2
