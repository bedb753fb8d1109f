"""What bench.py measures: seconds per train step, FLOPs per step, the machine's matmul peak, peak memory."""
import resource
import time

import tensorflow as tf
from keras import layers

from utils.networks import DOMAINS

# Images per domain-batch that pass through each network in one train step (see training.replica_step):
# each encoder sees its domain's faces and the translations into its domain; each decoder decodes both
# domains' embeddings; each discriminator judges real faces of its domain and translations into it.
CALLS_PER_STEP = {**{f"private_encoder_{d}": 2 for d in DOMAINS}, "shared_encoder": 4, "shared_decoder": 4,
                  **{f"private_decoder_{d}": 2 for d in DOMAINS}, **{f"discriminator_{d}": 2 for d in DOMAINS},
                  "domain_classifier": 2}


def seconds_per_step(step, next_inputs, steps, warmup=2):
    """Mean wall time of `steps` calls of step(*next_inputs()), after `warmup` calls (tracing, compiling)."""
    for _ in range(warmup):
        float(step(*next_inputs())["L_gen"])
    start = time.perf_counter()
    for _ in range(steps):
        terms = step(*next_inputs())
    float(terms["L_gen"])  # waits for the last step
    return (time.perf_counter() - start) / steps


def seconds_per_call(function, steps, warmup=2):
    """Mean wall time of `steps` calls of function() (its result waited for), after `warmup` calls."""
    for _ in range(warmup):
        tf.nest.flatten(function())[0].numpy()
    start = time.perf_counter()
    for _ in range(steps):
        result = function()
    tf.nest.flatten(result)[0].numpy()
    return (time.perf_counter() - start) / steps


def forward_backward(network, images, jit_compile):
    """A compiled call of `network` on `images` in training mode with the gradients of its mean output with
    respect to its weights and its input, as the train step computes them."""
    @tf.function(jit_compile=jit_compile)
    def call():
        with tf.GradientTape() as tape:
            tape.watch(images)
            mean = tf.reduce_mean(tf.cast(network(images, training=True), tf.float32))
        return tape.gradient(mean, [images, *network.trainable_variables])
    return call


def judged(discriminator, images, r1, jit_compile):
    """A compiled discriminator loss with its R1 penalty (losses.judge) and its gradient: the difference
    between r1 and r1 = 0 is the cost of the penalty's second backward pass."""
    from utils import losses  # here: speed is imported by bench alone, losses by the train step

    real, fake = tf.split(images, 2)

    @tf.function(jit_compile=jit_compile)
    def call():
        with tf.GradientTape() as tape:
            logits_real, logits_fake, penalty = losses.judge(discriminator, real, fake, r1)
            loss = tf.reduce_mean(tf.cast(logits_fake - logits_real, tf.float32)) + penalty
        return tape.gradient(loss, discriminator.trainable_variables)
    return call


def part_seconds(model, average, config, steps, without_stem=None):
    """{part: seconds per train step} of each network alone, forward and backward at the images it sees in one
    step (CALLS_PER_STEP), compiled as the step is; `without_stem`: the same discriminator built without its
    full-size first conv, whose difference is the stem's cost. Also R1's second backward pass and the update of
    `average` (the ema.MovingAverage of the weights)."""
    b, size, jit = config.batch_size, config.image_size, config.jit_compile
    images = lambda calls, shape: tf.random.uniform((calls * b, *shape), -1, 1)  # noqa: E731
    timed = lambda call: seconds_per_call(call, steps)  # noqa: E731
    seconds = {}
    for d in DOMAINS:
        encoder, decoder = model.encoder(d), model.decoder(d)
        seconds[f"encoder_{d}"] = timed(forward_backward(encoder, images(2, (size, size, 3)), jit))
        seconds[f"decoder_{d}"] = timed(forward_backward(decoder, images(2, decoder.input_shape[1:]), jit))
    for d, discriminator in model.discriminators.items():
        pair = images(2, (size, size, 3))
        seconds[f"discriminator_{d}"] = timed(forward_backward(discriminator, pair, jit))
        if without_stem is not None and config.discriminator_stem:
            bare = timed(forward_backward(without_stem.discriminators[d], pair, jit))
            seconds[f"  of which the full-size first conv ({d})"] = seconds[f"discriminator_{d}"] - bare
        if config.r1:  # judged() holds the discriminator's own forward and backward too: the difference
            seconds[f"R1 second backward pass ({d})"] = (timed(judged(discriminator, pair, config.r1, jit))
                                                        - timed(judged(discriminator, pair, 0.0, jit)))
    classifier = model.domain_classifier
    seconds["domain_classifier"] = timed(forward_backward(classifier, images(2, classifier.input_shape[1:]), jit))
    step = tf.Variable(0, dtype=tf.int64)
    update = tf.function(lambda: average.update(step) or tf.constant(0.0), jit_compile=jit)
    seconds["moving average of the weights"] = seconds_per_call(update, steps)
    return seconds


def seconds_per_batch(batches, count):
    """Mean wall time of next(batches) alone: what the input pipeline can deliver."""
    next(batches)
    start = time.perf_counter()
    for _ in range(count):
        next(batches)
    return (time.perf_counter() - start) / count


def layer_flops(layer):
    """Multiply-adds x 2 of one forward pass of a conv, transposed conv or dense layer, per image (else 0)."""
    inner = layer.layer if isinstance(layer, layers.Wrapper) else layer  # spectral normalization wraps a layer
    if isinstance(inner, (layers.Conv2D, layers.Conv2DTranspose)):
        kh, kw = inner.kernel_size
        # a conv does its k*k*cin*cout work at each output pixel, a transposed conv at each input pixel
        at = layer.output.shape if isinstance(inner, layers.Conv2D) else layer.input.shape
        return 2 * at[1] * at[2] * kh * kw * layer.input.shape[-1] * inner.filters
    if isinstance(inner, layers.Dense):
        return 2 * layer.input.shape[-1] * inner.units
    return 0


def network_flops(network):
    """Forward FLOPs per image of a functional Keras model (nested models included)."""
    return sum(network_flops(layer) if hasattr(layer, "layers") else layer_flops(layer) for layer in network.layers)


def train_step_flops(model, batch_size):
    """FLOPs of one train step, counted from the layers: forward plus backward (twice the forward: the
    gradients with respect to the inputs and to the weights). Elementwise work (normalization,
    activations, losses, Adam) is left out, so the count is a slight underestimate."""
    networks = {layer.name: layer for layer in model.xgan.layers if hasattr(layer, "layers")}
    networks.update((name, network) for name, network in model.parts().items() if name != "xgan")
    forward = sum(calls * batch_size * network_flops(networks[name])
                  for name, calls in CALLS_PER_STEP.items() if name in networks)
    return 3 * forward


def matmul_peak(sizes=(512, 1024, 2048), repeats=5, dtype=tf.float32):
    """The best FLOP/s of square matrix products in `dtype` on the default device, measured now."""
    best = 0.0
    for n in sizes:
        a = tf.cast(tf.random.normal((n, n)), dtype)
        product = tf.function(lambda a: tf.matmul(a, a))
        product(a).numpy()
        start = time.perf_counter()
        for _ in range(repeats):
            c = product(a)
        c.numpy()
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - start))
    return best


def peak_memory_bytes():
    """Peak memory so far: of the first GPU if there is one, else the process's peak resident set."""
    if tf.config.list_physical_devices("GPU"):
        return tf.config.experimental.get_memory_info("GPU:0")["peak"]
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
