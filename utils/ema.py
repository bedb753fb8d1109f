"""An exponential moving average of the autoencoders' weights, the weights translation uses.

Averaging a GAN generator's weights over the last steps gives steadier and better outputs than its last
weights at almost no cost (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training").
"""
import contextlib

import tensorflow as tf


class MovingAverage(tf.Module):
    """average = d * average + (1 - d) * weight after each step, with d = min(decay, (1 + step) / (10 + step)),
    as tf.train.ExponentialMovingAverage's num_updates: early on the average follows the weights closely
    instead of holding the initial ones. Batch-normalization statistics are averaged alike.
    Built in the strategy's scope; a tf.Module, so checkpoints hold the averages."""

    def __init__(self, variables, decay):
        super().__init__(name="moving_average")
        self.decay = decay
        self._variables = list(variables) if decay else []  # decay 0: off, translation uses the last weights
        self.averages = [tf.Variable(v, trainable=False, name=v.name.replace(":", "_").replace("/", "_") + "_avg")
                         for v in self._variables]

    def update(self, step):
        """Called once per train step, in cross-replica context (a mirrored average is updated on every device)."""
        step = tf.cast(step, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + step) / (10.0 + step))
        for average, variable in zip(self.averages, self._variables):
            average.assign(decay * average + (1.0 - decay) * tf.cast(variable, average.dtype))

    @contextlib.contextmanager
    def applied(self):
        """The averages in the weights for the duration (samples, quality, saving); the live weights after."""
        live = [v.numpy() for v in self._variables]
        for variable, average in zip(self._variables, self.averages):
            variable.assign(average)
        try:
            yield
        finally:
            for variable, value in zip(self._variables, live):
                variable.assign(value)
