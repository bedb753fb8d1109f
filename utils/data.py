"""Image folders in, batches of [-1, 1] pixels out (the TensorFlow pix2pix/CycleGAN tutorial's pipeline)."""
import difflib
import os

import numpy as np
import tensorflow as tf

from utils import reading

DOMAINS = ("real", "manga")
MEMORY_LIMIT_BYTES = 2 ** 30  # per domain: training images decoded once up to this size (87,000 at 64x64)

# Folder names of the report's layout: 1 = real faces, 2 = manga faces. Settings are chosen on the validation
# faces (train.py's per-epoch quality, sweeps); the test faces are measured once, for what ships.
TRAIN_FOLDERS = {"real": "train1", "manga": "train2"}
VAL_FOLDERS = {"real": "val1", "manga": "val2"}
TEST_FOLDERS = {"real": "test1", "manga": "test2"}
LAYOUT = ("train1/ (real faces), train2/ (manga faces), val1/ val2/ and test1/ test2/ (the same, held out), "
          "which `python prepare_data.py` can fill")
HOLD_OUT_EVERY = 20  # without val1/ val2/: every 20th training file by name is held out for validation instead
HOLD_OUT_MAX = 300   # faces per domain


class DataError(ValueError):
    """Bad input data; the message names the folder or file and what to do."""


def list_images(folder):
    """Sorted paths of the files in `folder` (all of them: `reading.scan` sorts out what is not an image)."""
    if not tf.io.gfile.isdir(folder):
        raise DataError(_missing_folder_message(folder))
    paths = sorted(os.path.join(folder, name) for name in tf.io.gfile.listdir(folder)
                   if not tf.io.gfile.isdir(os.path.join(folder, name)))
    if not paths:
        raise DataError(f"Image folder {folder}/ is empty. Put the domain's images in it (JPEG, PNG, BMP, GIF or "
                        f"WebP, any size); the layout is {LAYOUT}.")
    return paths


def _missing_folder_message(folder):
    parent, name = os.path.split(folder.rstrip("/"))
    parent = parent or "."
    if not tf.io.gfile.isdir(parent):
        return (f"Folder {parent}/ does not exist, so neither does {folder}/. Check --data-dir: it names the "
                f"folder that holds {LAYOUT}.")
    others = sorted(n.rstrip("/") for n in tf.io.gfile.listdir(parent) if tf.io.gfile.isdir(os.path.join(parent, n)))
    close = difflib.get_close_matches(name, others, n=1, cutoff=0.6)
    hint = f" {parent}/{close[0]}/ looks like it: rename it to {name}/." if close else ""
    found = ", ".join(n + "/" for n in others[:10]) or "no folders"
    return (f"Image folder {folder}/ does not exist ({parent}/ holds {found}).{hint} --data-dir names the folder "
            f"that holds {LAYOUT}.")


def domain_files(data_dir, folders, min_count=1, log=print):
    """{domain: readable image paths} of the layout's folders; unreadable files skipped, named in one warning.

    Each folder must hold at least `min_count` readable images.
    """
    listed = {domain: list_images(os.path.join(data_dir, folder)) for domain, folder in folders.items()}
    files, skipped = {}, []
    for domain, paths in listed.items():
        if len(paths) >= reading.SCAN_BAR_FROM:
            log(f"checking the {len(paths)} files of {os.path.join(data_dir, folders[domain])}/")
        files[domain], bad = reading.scan(paths)
        skipped += bad
    if skipped:
        log(reading.describe_bad(skipped))
    for domain, paths in files.items():
        if len(paths) < min_count:
            folder = os.path.join(data_dir, folders[domain])
            raise DataError(f"{folder}/ holds {len(paths)} readable images ({len(listed[domain]) - len(paths)} "
                            f"other files), fewer than one batch ({min_count}). Add images or lower --batch-size.")
    return files


def layout_folders(domain):
    """(train, validation, test) folder names of `domain`."""
    return TRAIN_FOLDERS[domain], VAL_FOLDERS[domain], TEST_FOLDERS[domain]


def run_files(config, log=print):
    """(training files, validation files) of config.data_dir, checked before any model is built.

    Without val1/ and val2/, a fixed slice of the training files (every HOLD_OUT_EVERY-th by name, at most
    HOLD_OUT_MAX per domain) is held out for validation instead, and the log says which.
    """
    if all(tf.io.gfile.isdir(os.path.join(config.data_dir, folder)) for folder in VAL_FOLDERS.values()):
        return (domain_files(config.data_dir, TRAIN_FOLDERS, min_count=config.batch_size, log=log),
                domain_files(config.data_dir, VAL_FOLDERS, log=log))
    files = domain_files(config.data_dir, TRAIN_FOLDERS, min_count=config.batch_size + 1, log=log)
    val = {d: paths[HOLD_OUT_EVERY - 1::HOLD_OUT_EVERY][:HOLD_OUT_MAX] or paths[-1:] for d, paths in files.items()}
    train = {d: [p for p in paths if p not in set(val[d])] for d, paths in files.items()}
    for domain, paths in train.items():
        if len(paths) < config.batch_size:
            raise DataError(f"{os.path.join(config.data_dir, TRAIN_FOLDERS[domain])}/ holds {len(files[domain])} "
                            f"readable images; with {len(val[domain])} held out for validation, fewer than one "
                            f"batch ({config.batch_size}) are left. Add images, lower --batch-size, or add "
                            f"{VAL_FOLDERS['real']}/ and {VAL_FOLDERS['manga']}/.")
    log(f"no {VAL_FOLDERS['real']}/ {VAL_FOLDERS['manga']}/ in {config.data_dir}: holding out "
        f"{len(val['real'])} real + {len(val['manga'])} manga training faces for validation (every "
        f"{HOLD_OUT_EVERY}th file by name, up to {HOLD_OUT_MAX}: {os.path.basename(val['real'][0])}, "
        f"{os.path.basename(val['manga'][0])}, ...); they are not trained on")
    return train, val


def decode(path):
    """uint8 HxWx3 pixels of the image at `path` (a string tensor), inside a tf.data pipeline or eagerly."""
    image = tf.numpy_function(lambda p: reading.read_rgb(p.decode()), [path], tf.uint8, stateful=False)
    image.set_shape([None, None, 3])
    return image


def to_model_input(image, crop, size):
    """uint8 HxWx3 -> centred square of side crop * min(H, W), resized to size x size, on [-1, 1].

    A square centred on a CelebA photo holds the face with the framing of the manga faces.
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.cast(crop * tf.cast(tf.minimum(height, width), tf.float32), tf.int32)
    image = tf.image.crop_to_bounding_box(image, (height - side) // 2, (width - side) // 2, side, side)
    image = tf.image.resize(image, (size, size), antialias=True)
    return tf.clip_by_value(image / 127.5 - 1.0, -1.0, 1.0)


def crop_for(domain, config):
    return config.real_crop if domain == "real" else 1.0


def _model_inputs(paths, domain, config):
    """Dataset of the [-1, 1] model inputs of `paths`, in order, decoded in parallel."""
    crop = crop_for(domain, config)
    return (tf.data.Dataset.from_tensor_slices(list(paths))
            .map(lambda path: to_model_input(decode(path), crop, config.image_size),
                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(256))


def load_images(paths, domain, config):
    """Every image of `paths` as one [-1, 1] array (n, size, size, 3)."""
    return np.concatenate(list(_model_inputs(paths, domain, config).as_numpy_iterator()))


def decoded(paths, domain, config):
    """uint8 (n, size, size, 3): every image of `paths` read, cropped and resized once, as the model sees it."""
    batches = _model_inputs(paths, domain, config).map(lambda x: tf.cast(tf.round((x + 1.0) * 127.5), tf.uint8))
    return np.concatenate(list(batches.as_numpy_iterator()))


def fits_in_memory(paths, config):
    return len(paths) * config.image_size ** 2 * 3 <= MEMORY_LIMIT_BYTES


def training_dataset(files, config, start_step=0):
    """Endless (x_real, x_manga) batches from step `start_step` on: each domain shuffled on its own, unpaired,
    randomly flipped.

    A folder that fits in MEMORY_LIMIT_BYTES is decoded once (3,000 faces at 64x64: 37 MB) and each step
    gathers its batch from memory; a larger one is decoded anew each time it is drawn. Either way the
    shuffled stream is one of indices and coin flips, fixed by the seed, so a resumed run skips to its
    step in that stream (without decoding what it skips) and sees what an uninterrupted run would: no
    iterator state to checkpoint, on one machine or several.
    """
    streams = []
    for i, domain in enumerate(DOMAINS):
        paths = files[domain]
        if fits_in_memory(paths, config):
            pixels = tf.constant(decoded(paths, domain, config))

            def pick(index, pixels=pixels):
                return tf.cast(tf.gather(pixels, index), tf.float32) / 127.5 - 1.0
        else:
            names, crop = tf.constant(paths), crop_for(domain, config)

            def pick(index, names=names, crop=crop):
                return to_model_input(decode(tf.gather(names, index)), crop, config.image_size)

        def load(index, coin, pick=pick):
            image = pick(index)
            return tf.cond(config.flip and coin % 2 == 1, lambda: tf.reverse(image, [1]), lambda: image)

        indices = (tf.data.Dataset.range(len(paths))
                   .shuffle(len(paths), seed=config.seed + i, reshuffle_each_iteration=True)
                   .repeat())
        coins = tf.data.Dataset.random(seed=config.seed + 2 + i)
        streams.append(tf.data.Dataset.zip(indices, coins)
                       .skip(start_step * config.batch_size)
                       .map(load, num_parallel_calls=tf.data.AUTOTUNE)
                       .batch(config.batch_size, drop_remainder=True))
    return tf.data.Dataset.zip(tuple(streams)).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(files, config):
    """One epoch = one pass over the larger training folder; the smaller one repeats."""
    return max(len(paths) for paths in files.values()) // config.batch_size
