"""Run by test_distribute.py in a fresh interpreter (the logical devices must be set before anything else).

    python distributed_step.py      # 2 logical CPUs: one mirrored step vs one single-device step
Prints one JSON line with what it measured. Several workers: test_multiworker.py (two processes).
"""
import dataclasses
import json
import os
import sys

import numpy as np
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

from conftest import TINY_MODEL  # noqa: E402  (this script's folder is tests/)
from utils.config import Config  # noqa: E402
from utils.networks import build  # noqa: E402
from utils.training import make_training  # noqa: E402

config = dataclasses.replace(Config(), **TINY_MODEL, batch_size=8, augment="none")  # one random draw per replica
rng = np.random.default_rng(0)
batch = tuple(tf.constant(rng.uniform(-1, 1, (8, 32, 32, 3)), tf.float32) for _ in range(2))


def variables(model):
    return [w for network in model.parts().values() for w in network.weights]


def weights(model):
    return [np.array(w) for w in variables(model)]


def one_step(model, strategy):
    step = make_training(model, config, strategy)[0]
    inputs = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))))
    return {k: float(v) for k, v in step(*inputs, tf.constant(0, tf.int64), tf.constant(1.0), tf.constant(1.0)).items()}


with strategy.scope():
    distributed = build(config)
initial = weights(distributed)
terms = one_step(distributed, strategy)
single = build(config)
for w, value in zip(variables(single), initial):
    w.assign(value)
single_terms = one_step(single, tf.distribute.get_strategy())
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "max_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(weights(distributed), weights(single))),
    "max_change": max(float(np.abs(a - b).max()) for a, b in zip(weights(single), initial)),
    "max_term_difference": max(abs(terms[k] - single_terms[k]) for k in terms)}))
