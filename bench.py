"""Speed of the training step at the default config, and where the time goes.

    python bench.py                # the step: eager, tf.function, XLA; input pipeline; FLOPs; memory
    python bench.py --devices      # 1 and 2 devices, with and without mixed precision
    python bench.py --parts        # each part's share of the step, the epoch ends and the start-up
    python bench.py --smoke        # a tiny model, 2 steps per row: only checks that every row runs
Every table is of the default recipe as it trains on this machine (its precision and XLA setting).
The first table times the train step on the same batch held in memory, first run eagerly, then as a
tf.function, then compiled by XLA, and then the step train.py runs (its --jit-compile setting) fed by
the real tf.data pipeline over --data-dir's train1/ and train2/: the difference is the pipeline's cost.
Compute efficiency is the step's FLOPs (counted from the layers) times steps/s, over the matmul FLOP/s
of the precision the step computes in, measured in the same run (float32 and bfloat16 are both shown). --devices uses the machine's GPUs where it has two, else two
logical CPUs that share the same cores (which shows the cost of distribution, not a speed-up).
"""
import argparse
import dataclasses
import sys
import time

import keras
import tensorflow as tf

import utils  # noqa: F401  (quiets TensorFlow's start-up log)
from utils import data, evaluation, images, speed
from utils.config import POSITIVE, checked, preset
from utils.distribute import set_mixed_precision
from utils.networks import DOMAINS, build
from utils.training import make_training

TINY = dict(image_size=32, encoder_private_filters=(8, 16), encoder_shared_filters=(16,), embedding_dim=8,
            decoder_shared_filters=(16, 8), decoder_private_filters=(8,), discriminator_filters=(4, 8, 8),
            domain_classifier_units=8, batch_size=8, jit_compile=False)  # XLA only in its own row: compiling is slow


def in_memory_batch(config):
    shape = (config.batch_size, config.image_size, config.image_size, 3)
    # the train step's inputs: both batches, the step, the ramps of the adversarial terms and of L_col
    return (tf.random.uniform(shape, -1, 1), tf.random.uniform(shape, -1, 1), tf.constant(0, tf.int64),
            tf.constant(1.0), tf.constant(1.0))


def new_step(config, strategy=None):
    """(model, train step, moving average) of `config`, built in `strategy`'s scope."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config)
    step, _, average = make_training(model, config, strategy)
    return model, step, average


def peaks():
    """{precision: matmul FLOP/s measured now} for float32 and bfloat16."""
    return {name: speed.matmul_peak(dtype=dtype) for name, dtype in (("float32", tf.float32),
                                                                     ("bfloat16", tf.bfloat16))}


def efficiency(flops, seconds, policy):
    """One line: the step's achieved FLOP/s against the matmul peaks, the one of `policy`'s compute dtype first."""
    achieved, measured = flops / seconds, peaks()
    used = "bfloat16" if "bfloat16" in policy else "float32"  # float16 on a GPU: its peak is not measured here
    return (f"achieved: {achieved / 1e9:.1f} GFLOP/s; matmul peak measured now: {used} "
            f"{measured[used] / 1e9:.1f} GFLOP/s (compute efficiency {achieved / measured[used]:.0%}), "
            + ", ".join(f"{name} {peak / 1e9:.1f} GFLOP/s" for name, peak in measured.items() if name != used))


def step_table(config, steps):
    batch = in_memory_batch(config)
    images = 2 * config.batch_size
    print(f"batch {config.batch_size} + {config.batch_size} images, {config.image_size}x{config.image_size}; "
          f"{steps} timed steps per row (the eager row: {max(1, steps // 4)})\n\n"
          "| train step | s/step | images/s |\n| --- | --- | --- |", flush=True)

    def row(label, seconds):
        print(f"| {label} | {seconds:.3f} | {images / seconds:.1f} |", flush=True)

    tf.config.run_functions_eagerly(True)
    row("eager (no tf.function)", speed.seconds_per_step(new_step(config)[1], lambda: batch, max(1, steps // 4), 1))
    tf.config.run_functions_eagerly(False)
    row("tf.function", speed.seconds_per_step(new_step(dataclasses.replace(config, jit_compile=False))[1],
                                              lambda: batch, steps))
    row("tf.function + XLA", speed.seconds_per_step(new_step(dataclasses.replace(config, jit_compile=True))[1],
                                                    lambda: batch, steps))

    # train.py's step, fed alternately by the pipeline and from memory, in one run: the ratio is the pipeline's cost
    model, step, _ = new_step(config)
    files = data.domain_files(config.data_dir, data.TRAIN_FOLDERS, config.batch_size, log=lambda line: None)
    batches = iter(data.training_dataset(files, config))
    fed = lambda: (*next(batches), *batch[2:])  # noqa: E731
    memory, pipeline = speed.seconds_per_step(step, lambda: batch, steps), speed.seconds_per_step(step, fed, steps)
    row(f"train.py's step (XLA {'on' if config.jit_compile else 'off'}), batch in memory", memory)
    row(f"the same, fed by the tf.data pipeline from {config.data_dir}", pipeline)
    pipeline_alone = speed.seconds_per_batch(batches, 4 * steps)

    flops = speed.train_step_flops(model, config.batch_size)
    print(f"\n- input pipeline: {max(0.0, pipeline / memory - 1):.1%} of step time "
          f"(alone it makes {1 / pipeline_alone:.0f} batches/s)\n"
          f"- FLOPs per step (convs and dense layers, forward + backward): {flops / 1e9:.1f} G\n"
          f"- {efficiency(flops, memory, keras.mixed_precision.global_policy().name)}\n"
          f"- peak memory: {speed.peak_memory_bytes() / 2 ** 30:.2f} GiB "
          f"({'GPU' if tf.config.list_physical_devices('GPU') else 'process resident set, all rows'})")


def devices():
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= 2:
        return [f"/gpu:{i}" for i in range(2)], "GPU"
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    return ["/cpu:0", "/cpu:1"], "logical CPU"


def device_table(config, steps):
    pair, kind = devices()  # before anything else touches the devices
    batch = in_memory_batch(config)
    print(f"batch {config.batch_size} + {config.batch_size} images, {config.image_size}x{config.image_size}; "
          f"{steps} timed steps per row\n\n| devices | precision | images/s |\n| --- | --- | --- |")
    for mixed in (False, True):
        for strategy, label in ((tf.distribute.OneDeviceStrategy(pair[0]), f"1 {kind}"),
                                (tf.distribute.MirroredStrategy(pair), f"2 {kind}s")):
            policy = set_mixed_precision(mixed)
            _, step, _ = new_step(config, strategy)
            inputs = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch[:2]))))
            seconds = speed.seconds_per_step(step, lambda: (*inputs, *batch[2:]), steps)
            print(f"| {label} | {policy} | {2 * config.batch_size / seconds:.1f} |", flush=True)
    set_mixed_precision(False)


def make_parser():
    """The command's flags (the docs test parses the README's commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=checked(int, *POSITIVE), default=8, help="timed steps per row (default: 8)")
    parser.add_argument("--data-dir", default=".", help="folder holding train1/ and train2/ (default: .)")
    parser.add_argument("--devices", action="store_true",
                        help="1 and 2 devices, float32 and mixed precision, instead of the step table")
    parser.add_argument("--parts", action="store_true",
                        help="each part's share of the step, the epoch ends and the start-up, instead of the step table")
    parser.add_argument("--smoke", action="store_true", help="tiny model, 2 steps")
    return parser


def part_table(config, steps):
    """Each part's share of the train step (timed alone at the images it sees in a step), the work at an
    epoch's end (sample grid, quality measure of the validation faces) and the start-up."""
    policy = keras.mixed_precision.global_policy().name
    batch = in_memory_batch(config)
    began = time.perf_counter()
    model, step, average = new_step(config)
    float(step(*batch)["L_gen"])
    start_up = time.perf_counter() - began
    whole = speed.seconds_per_step(step, lambda: batch, steps)
    without_stem = build(dataclasses.replace(config, discriminator_stem=0)) if config.discriminator_stem else None
    parts = speed.part_seconds(model, average, config, steps, without_stem)
    print(f"{policy}, XLA {'on' if config.jit_compile else 'off'}, batch {config.batch_size} + {config.batch_size}; "
          f"the whole step: {whole:.3f} s\n\n| part (forward and backward, alone) | s/step | share of the step |\n"
          "| --- | --- | --- |")
    for name, seconds in parts.items():
        print(f"| {name} | {seconds:.3f} | {seconds / whole:.0%} |")
    rest = whole - sum(seconds for name, seconds in parts.items() if not name.startswith(" "))
    print(f"| the rest: losses, gradient reversal, Adam's updates, what running the parts together saves "
          f"(negative) | {rest:.3f} | {rest / whole:.0%} |", flush=True)

    files, val = data.run_files(config, log=lambda line: None)
    faces = {d: data.load_images(val[d], d, config) for d in DOMAINS}
    began = time.perf_counter()
    quality = evaluation.EpochQuality(faces, {d: data.load_images(files[d][::3][:1000], d, config) for d in DOMAINS},
                                      config.quality_features, log=lambda line: None)
    quality_ready = time.perf_counter() - began
    grid = speed.seconds_per_call(lambda: tf.constant(images.sample_grid(model, faces["real"][:8],
                                                                         faces["manga"][:8])), 1, warmup=1)
    began = time.perf_counter()
    quality.measure(model)
    measure = time.perf_counter() - began
    epoch = data.steps_per_epoch(files, config) * whole
    per_epoch = grid + (measure / config.quality_every if config.quality_every else 0.0)
    print(f"\n- an epoch: {epoch:.0f} s of steps; at its end the sample grid {grid:.1f} s and, every "
          f"{config.quality_every} epochs, the quality measure of {sum(len(x) for x in faces.values())} validation "
          f"faces {measure:.0f} s ({quality.extractor.description}): {per_epoch / (epoch + per_epoch):.1%} of "
          f"the run's time; the measure's set-up once at start: {quality_ready:.0f} s\n"
          f"- start-up: building the networks, tracing{' and compiling' if config.jit_compile else ''} the step "
          f"and its first call: {start_up:.1f} s (a step after: {whole:.3f} s)\n"
          f"- {efficiency(speed.train_step_flops(model, config.batch_size), whole, policy)}")


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    config = dataclasses.replace(preset("default"), data_dir=args.data_dir,
                                 **(dict(TINY, quality_features="classifier") if args.smoke else {}))
    steps = 2 if args.smoke else args.steps
    if not args.devices:
        try:  # the step and part tables time the pipeline: a typo in --data-dir stops here, not after minutes
            data.domain_files(config.data_dir, data.TRAIN_FOLDERS, config.batch_size, log=lambda line: None)
        except data.DataError as error:
            sys.exit(f"error: {error}")
        set_mixed_precision(config.mixed_precision)
    (device_table if args.devices else part_table if args.parts else step_table)(config, steps)


if __name__ == "__main__":
    main()
