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


def matmul_peak(sizes=(512, 1024, 2048), repeats=5):
    """The best float32 FLOP/s of square matrix products on the default device, measured now."""
    best = 0.0
    for n in sizes:
        a = tf.random.normal((n, n))
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
