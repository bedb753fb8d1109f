"""Model outputs to PNG files and sample grids; loss curves."""
import base64
import io
import os

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from PIL import Image


def to_uint8(images):
    """[-1, 1] floats -> uint8 pixels."""
    return np.clip((np.asarray(images) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def png_bytes(image):
    """A PNG file of uint8 pixels or of a [-1, 1] float image."""
    image = np.asarray(image)
    buffer = io.BytesIO()
    Image.fromarray(image if image.dtype == np.uint8 else to_uint8(image)).save(buffer, format="png")
    return buffer.getvalue()


def png_data_url(image):
    """The image as a data: URL, for a web page that needs no other file."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def save_png(image, path):
    write_bytes(png_bytes(image), path)


def write_bytes(content, path):
    """Write bytes to a local path or a gs:// URL."""
    tf.io.gfile.makedirs(os.path.dirname(path) or ".")
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(content)


def grid(rows, gap=2):
    """Rows of equally sized [-1, 1] images -> one [-1, 1] image, rows top to bottom; gaps and short rows white."""
    rows = [np.asarray(r) for r in rows]
    _, h, w, _ = rows[0].shape
    n = max(len(r) for r in rows)
    canvas = np.ones((len(rows) * (h + gap) - gap, n * (w + gap) - gap, 3), np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            canvas[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = image
    return canvas


def pairs_grid(inputs, outputs, width=10):
    """Inputs above their outputs, `width` to a row: one [-1, 1] image (translate.py's grid.png, the results page)."""
    return grid([part[start:start + width] for start in range(0, len(inputs), width) for part in (inputs, outputs)])


def sample_grid(model, x_real, x_manga):
    """Six rows: real faces, their reconstructions, their manga translations; the same for manga faces."""
    rows = []
    for source, target, x in (("real", "manga", x_real), ("manga", "real", x_manga)):
        rows += [x, model.autoencoder(source)(x, training=False), model.translator(source, target)(x, training=False)]
    return grid(rows)


def save_loss_curves(rows, path):
    """One panel per column of the log rows against the step: loss terms at every row, quality measures
    (epoch ends only) as points joined by lines."""
    names = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in ("epoch", "step", "train_minutes")]
    columns = (len(names) + 2) // 3
    figure = Figure(figsize=(3 * columns, 7.5), layout="constrained")
    for i, name in enumerate(names):
        axes = figure.add_subplot(3, columns, i + 1)
        points = [(row["step"], row[name]) for row in rows if name in row]
        axes.plot(*zip(*points), marker="o" if len(points) < len(rows) else None)
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("step")
    _save_figure(figure, path)


def save_quality_curves(runs, names, path):
    """One panel per quality measure against training minutes, one line per run: {label: log rows}."""
    figure = Figure(figsize=(4 * len(names), 3.2), layout="constrained")
    for i, name in enumerate(names):
        axes = figure.add_subplot(1, len(names), i + 1)
        for label, rows in runs.items():
            points = [(row["train_minutes"], row[name]) for row in rows if row.get(name) is not None]
            if points:
                axes.plot(*zip(*points), marker="o", label=label)
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("training minutes (2-core CPU)")
        axes.legend(fontsize=8)
    _save_figure(figure, path)


def _save_figure(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    write_bytes(buffer.getvalue(), path)
