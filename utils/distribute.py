"""tf.distribute strategies for train.py --strategy, and who writes files in a cluster of workers."""
import os

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker")


class StrategyError(ValueError):
    """A --strategy that cannot be set up here; the message says why."""


def make_strategy(name):
    """default: one device; mirrored: every GPU of this machine; multiworker: the machines listed in TF_CONFIG."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise StrategyError("--strategy multiworker needs TF_CONFIG, the cluster and this worker's place in it; "
                             "see docs/gcp.md.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise StrategyError(f"unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}")


def is_chief(strategy):
    """Whether this process writes the run's files: always, except on the workers of a cluster but the first."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


def one_device(strategy):
    """Whether the step runs on one device with no cross-replica collectives, which XLA can compile.

    (XLA refuses a mirrored step: each replica's function would touch variables on the other devices.)
    """
    return strategy.num_replicas_in_sync == 1 and getattr(strategy, "cluster_resolver", None) is None


def write_dir(run_dir, strategy):
    """Where this process saves checkpoints and models. Every worker must save (reading the mirrored
    batch-normalization statistics is a collective operation), but only the chief's copy is kept:
    the others write to a scratch folder that `discard` removes."""
    if is_chief(strategy):
        return run_dir
    return os.path.join(run_dir, f"scratch_worker_{strategy.cluster_resolver.task_id}")


def discard(path, strategy):
    if not is_chief(strategy) and tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)


def any_worker(strategy, flag):
    """Whether `flag` holds on any worker of a cluster (an all-reduce of one number, so every worker must ask
    at the same step); on one machine, `flag` itself."""
    if getattr(strategy, "cluster_resolver", None) is None:
        return flag
    votes = strategy.run(lambda: tf.constant(1.0 if flag else 0.0))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)) > 0


def barrier(strategy):
    """Wait until every worker of a cluster gets here (an all-reduce of one number); no-op on one machine."""
    if getattr(strategy, "cluster_resolver", None) is not None:
        strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)


def fast_mixed_precision(cpuinfo="/proc/cpuinfo"):
    """Whether mixed precision is faster here: on a GPU, or on a CPU with bfloat16 arithmetic (1.6x float32 on
    an AMX Xeon, 1.5x on an AVX512_BF16 EPYC); where bfloat16 is emulated it is 4-5x slower (docs/speed.md)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    flags = _cpu_flags(cpuinfo)  # none known (not Linux): the safe float32
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fast_xla(cpuinfo="/proc/cpuinfo"):
    """Whether XLA compiles a faster train step here: on a GPU, or on a CPU without AVX-512 (measured 1.3x the
    plain function on an AVX2 EPYC; 1.4x slower on AVX-512 Xeons and EPYCs: docs/speed.md)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    return "avx512f" not in _cpu_flags(cpuinfo)


def _cpu_flags(cpuinfo):
    try:
        with open(cpuinfo) as f:
            return next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: no way to tell
        return []


def set_mixed_precision(enabled):
    """float16 with loss scaling on a GPU, bfloat16 on a CPU (no loss scaling needed); float32 when off."""
    if not enabled:
        keras.mixed_precision.set_global_policy("float32")
    else:
        keras.mixed_precision.set_global_policy(
            "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16")
    return keras.mixed_precision.global_policy().name
