"""Speed of the training step: images/s on 1 and 2 devices, with and without mixed precision.

    python bench.py              # the default model and batch, 8 timed steps per row
    python bench.py --smoke      # a tiny model and 2 steps: only checks that every row runs
The devices are the machine's GPUs; without two GPUs, two logical CPUs that share the same cores (which
shows the cost of distribution, not a speed-up). Inputs are random tensors already in memory, so the
figures are the step alone. Each row builds and compiles its own model first (not timed).
"""
import argparse
import dataclasses
import time

import tensorflow as tf

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils.config import Config
from utils.distribute import set_mixed_precision
from utils.networks import build
from utils.training import make_optimizers, make_train_step

TINY = dict(image_size=32, encoder_private_filters=(8, 16), encoder_shared_filters=(16, 32), embedding_dim=32,
            decoder_shared_filters=(32, 16), decoder_private_filters=(16, 8), discriminator_filters=(4, 4, 4, 4),
            domain_classifier_units=8, batch_size=8)


def devices():
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= 2:
        return [f"/gpu:{i}" for i in range(2)], "GPU"
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    return ["/cpu:0", "/cpu:1"], "logical CPU"


def images_per_second(config, strategy, steps):
    with strategy.scope():
        model = build(config)
    step = make_train_step(model, *make_optimizers(config, strategy), config, strategy)
    shape = (config.batch_size, config.image_size, config.image_size, 3)
    batch = (tf.random.uniform(shape, -1, 1), tf.random.uniform(shape, -1, 1))
    inputs = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))))
    ramp = tf.constant(1.0)
    for _ in range(2):  # compile and warm up
        float(step(*inputs, ramp)["L_gen"])
    start = time.perf_counter()
    for _ in range(steps):
        terms = step(*inputs, ramp)
    float(terms["L_gen"])
    return 2 * config.batch_size * steps / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per row (default: 8)")
    parser.add_argument("--smoke", action="store_true", help="tiny model, 2 steps")
    args = parser.parse_args(argv)
    config = dataclasses.replace(Config(), **TINY) if args.smoke else Config()
    steps = 2 if args.smoke else args.steps
    pair, kind = devices()
    print(f"batch {config.batch_size} + {config.batch_size} images, {config.image_size}x{config.image_size}; "
          f"{steps} timed steps per row\n\n| devices | precision | images/s |\n| --- | --- | --- |")
    for mixed in (False, True):
        for strategy, label in ((tf.distribute.OneDeviceStrategy(pair[0]), f"1 {kind}"),
                                (tf.distribute.MirroredStrategy(pair), f"2 {kind}s")):
            policy = set_mixed_precision(mixed)
            print(f"| {label} | {policy} | {images_per_second(config, strategy, steps):.1f} |", flush=True)
    set_mixed_precision(False)


if __name__ == "__main__":
    main()
