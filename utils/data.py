"""Image folders in, batches of [-1, 1] pixels out (the TensorFlow pix2pix/CycleGAN tutorial's pipeline)."""
import os

import tensorflow as tf

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
# Folder names of the report's layout: 1 = real faces, 2 = manga faces.
TRAIN_FOLDERS = {"real": "train1", "manga": "train2"}
TEST_FOLDERS = {"real": "test1", "manga": "test2"}


class DataError(ValueError):
    """Bad input data; the message names the folder or file and what to do."""


def list_images(folder):
    """Sorted image paths in `folder`; a DataError naming the folder if there are none."""
    if not tf.io.gfile.isdir(folder):
        raise DataError(f"Image folder {folder}/ does not exist. Create it and put images in it "
                        f"(.jpg, .png, .bmp, .gif, .webp), or point --data-dir at the folder that holds "
                        f"train1/ train2/ test1/ test2/.")
    names = tf.io.gfile.listdir(folder)
    paths = sorted(os.path.join(folder, name) for name in names if name.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise DataError(f"Image folder {folder}/ holds no images (.jpg, .png, .bmp, .gif, .webp); "
                        f"found {len(names)} other entries. Put the domain's images in it.")
    return paths


def domain_files(data_dir, folders, min_count=1):
    """{domain: image paths} for the folders of the layout; each must hold at least `min_count` images."""
    files = {domain: list_images(os.path.join(data_dir, folder)) for domain, folder in folders.items()}
    for domain, paths in files.items():
        if len(paths) < min_count:
            raise DataError(f"{os.path.join(data_dir, folders[domain])}/ holds {len(paths)} images, fewer than "
                            f"one batch ({min_count}). Add images or lower --batch-size.")
    return files


def decode(path_or_bytes, from_bytes=False):
    data = path_or_bytes if from_bytes else tf.io.read_file(path_or_bytes)
    return tf.io.decode_image(data, channels=3, expand_animations=False)


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


def load_images(paths, domain, config):
    """Every image of `paths` as one [-1, 1] tensor (n, size, size, 3)."""
    crop = crop_for(domain, config)
    return tf.stack([to_model_input(decode(p), crop, config.image_size) for p in paths])


def training_dataset(files, config):
    """Endless (x_real, x_manga) batches: each domain shuffled on its own, unpaired, randomly flipped.

    Every random choice comes from seeded tf.data state, so a checkpointed iterator resumes the same stream.
    Images are decoded anew each time (no cache): the state to checkpoint stays a few kB of file names,
    and folders of any size fit.
    """
    streams = []
    for i, domain in enumerate(("real", "manga")):
        crop = crop_for(domain, config)

        def load(path, coin, crop=crop):
            image = to_model_input(decode(path), crop, config.image_size)
            return tf.cond(config.flip and coin % 2 == 1, lambda: tf.reverse(image, [1]), lambda: image)

        paths = (tf.data.Dataset.from_tensor_slices(files[domain])
                 .shuffle(len(files[domain]), seed=config.seed + i, reshuffle_each_iteration=True)
                 .repeat())
        coins = tf.data.Dataset.random(seed=config.seed + 2 + i)
        streams.append(tf.data.Dataset.zip(paths, coins)
                       .map(load, num_parallel_calls=tf.data.AUTOTUNE)
                       .batch(config.batch_size, drop_remainder=True))
    return tf.data.Dataset.zip(tuple(streams)).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(files, config):
    """One epoch = one pass over the larger training folder; the smaller one repeats."""
    return max(len(paths) for paths in files.values()) // config.batch_size
