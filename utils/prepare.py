"""Fill train1/ test1/ (real) or train2/ test2/ (manga) from a folder, an archive or a tensorflow-datasets builder.

Every image is read by the one reading path (so every written file is a clean RGB image), exact
duplicates (same pixels) are kept once, and the train/test split is drawn from the unique images
only, so no image can be in both; a content-hash check of the written files confirms it.
"""
import hashlib
import io
import os
import random
import tarfile
import zipfile
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from PIL import Image

from utils import reading
from utils.data import TEST_FOLDERS, TRAIN_FOLDERS, DataError
from utils.faces import crops
from utils.images import write_bytes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
ARCHIVES = (".zip", ".tar", ".tgz", ".tar.gz")
# Photos as high-quality JPEG; manga and cartoons as PNG, whose flat colours and lines JPEG smears.
FORMATS = {"real": ("jpg", {"quality": 95}), "manga": ("png", {})}


@dataclass
class Report:
    written: dict = field(default_factory=dict)      # folder -> count
    duplicates: int = 0
    not_images: int = 0                               # files whose names are not images' (CSV, text ...)
    unreadable: list = field(default_factory=list)    # (name, reason)


def items(source, tfds_dir=None):
    """(name, read) pairs of `source`; read() gives RGB pixels or raises UnreadableImage.

    source: a folder (searched recursively), a .zip/.tar/.tgz archive, or tfds:NAME[:SPLIT].
    Names that are not images' are counted (yielded as (name, None)), not read.
    """
    if source.startswith("tfds:"):
        yield from _tfds_items(source[len("tfds:"):], tfds_dir)
    elif tf.io.gfile.isdir(source):
        for folder, _, names in sorted(tf.io.gfile.walk(source)):
            if STAGING_PREFIX in folder:  # this command's own output, when the destination is inside the source
                continue
            for name in sorted(names):
                path = os.path.join(folder, name)
                yield (path, (lambda p=path: reading.read_rgb(p)) if _is_image(name) else None)
    elif source.lower().endswith(ARCHIVES) and tf.io.gfile.exists(source):
        yield from _archive_items(source)
    else:
        raise DataError(f"Source {source} is neither a folder, nor a .zip/.tar/.tgz archive, nor tfds:NAME "
                        f"(a tensorflow-datasets builder such as tfds:celeb_a). Check the path.")


def _is_image(name):
    return name.lower().endswith(IMAGE_EXTENSIONS) and not os.path.basename(name).startswith("._")


def _archive_items(path):
    content = None
    if path.startswith("gs://"):  # zipfile and tarfile need a seekable file: a bucket's archive goes to memory
        with tf.io.gfile.GFile(path, "rb") as f:
            content = io.BytesIO(f.read())
    if path.lower().endswith(".zip"):
        with zipfile.ZipFile(content or path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if not info.is_dir():
                    yield (f"{path}/{info.filename}", (lambda i=info: reading.rgb_from_bytes(archive.read(i)))
                           if _is_image(info.filename) else None)
    else:
        with tarfile.open(path if content is None else None, fileobj=content) as archive:
            for member in sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name):
                yield (f"{path}/{member.name}",
                       (lambda m=member: reading.rgb_from_bytes(archive.extractfile(m).read()))
                       if _is_image(member.name) else None)


def _tfds_items(spec, tfds_dir):
    import tensorflow_datasets as tfds  # imported here: slow to import, and only this source needs it

    name, _, split = spec.partition(":")
    try:
        builder = tfds.builder(name, data_dir=tfds_dir)
        builder.download_and_prepare()
        dataset = builder.as_dataset(split=split or "all")
    except Exception as error:  # tfds raises many kinds: unknown name, download refused, manual download needed
        raise DataError(f"tensorflow-datasets could not provide {name} ({type(error).__name__}: "
                        f"{str(error).strip().splitlines()[0][:300]}). For celeb_a, whose download from Google "
                        f"Drive is often refused, download img_align_celeba.zip from the CelebA page yourself and "
                        f"pass the zip as the source.") from None
    for i, example in enumerate(tfds.as_numpy(dataset)):
        image = example["image"]
        yield (f"tfds:{name}/{i:06d}", lambda image=image: np.asarray(reading.to_rgb(Image.fromarray(image))))


class SplitError(DataError):
    """The source holds too few images for the asked-for test split (a flag to change)."""


def prepare(domain, source, out=".", test_ratio=0.05, test_count=None, seed=0, limit=None, faces=None,
            max_side=256, replace=False, tfds_dir=None, log=print):
    """Write the unique readable images of `source` into the domain's train and test folders.

    Nothing in place is touched until the whole source has been read and written: the images go into
    staging folders beside the destination, which replace it only once complete (a failure or Ctrl-C
    leaves the destination as it was and removes the staging folders).
    """
    folders = [os.path.join(out, TRAIN_FOLDERS[domain]), os.path.join(out, TEST_FOLDERS[domain])]
    for folder in folders:
        if tf.io.gfile.isdir(folder) and tf.io.gfile.listdir(folder) and not replace:
            raise DataError(f"{folder}/ already holds {len(tf.io.gfile.listdir(folder))} files. Nothing was "
                            f"written. Pass --replace to replace {folders[0]}/ and {folders[1]}/ once the new "
                            f"images are ready, or --out for another folder.")
        _refuse_source_inside(source, folder)
    staged = [_staging(folder) for folder in folders]
    try:
        for folder in staged:
            if tf.io.gfile.exists(folder):
                tf.io.gfile.rmtree(folder)  # left over from an interrupted run
            tf.io.gfile.makedirs(folder)
        report = _write(domain, source, staged, test_ratio, test_count, seed, limit, faces, max_side, tfds_dir, log)
        for stage, folder in zip(staged, folders):
            _swap_in(stage, folder)
    finally:
        for folder in staged:
            if tf.io.gfile.exists(folder):
                tf.io.gfile.rmtree(folder)
    report.written = {folder: len(tf.io.gfile.listdir(folder)) for folder in folders}
    return report


STAGING_PREFIX = ".incoming_"  # folders skipped when a source folder is searched


def _staging(folder):
    parent, name = os.path.split(folder.rstrip("/"))
    return os.path.join(parent, STAGING_PREFIX + name)


def _refuse_source_inside(source, folder):
    if "://" in source or source.startswith("tfds:"):
        return
    inside = os.path.realpath(source) + os.sep
    if inside.startswith(os.path.realpath(folder) + os.sep):
        raise DataError(f"The source {source} is inside {folder}/, which this command would replace. Nothing was "
                        f"written. Move the source elsewhere first, or give another --out.")


def _swap_in(staged, folder):
    """Replace `folder` with the complete `staged` one: the old one is renamed aside, then deleted."""
    old = _staging(folder) + "_old"
    if tf.io.gfile.exists(old):
        tf.io.gfile.rmtree(old)
    if tf.io.gfile.exists(folder):
        tf.io.gfile.rename(folder, old)
    tf.io.gfile.rename(staged, folder)
    if tf.io.gfile.exists(old):
        tf.io.gfile.rmtree(old)


def _write(domain, source, folders, test_ratio, test_count, seed, limit, faces, max_side, tfds_dir, log):
    """Read every image of `source` into the train folder of `folders`, then move the test draw to the other."""
    report, seen, written = Report(), set(), []
    extension, options = FORMATS[domain]
    for name, read in items(source, tfds_dir):
        if limit and len(written) >= limit:
            break
        if read is None:
            report.not_images += 1
            continue
        try:
            found = crops(read(), faces)
        except reading.UnreadableImage as error:
            report.unreadable.append((name, str(error)))
            continue
        for image in found:
            digest = hashlib.sha1(repr(image.shape).encode() + image.tobytes()).hexdigest()
            if digest in seen:
                report.duplicates += 1
                continue
            seen.add(digest)
            stem = os.path.splitext(os.path.basename(name))[0]
            path = os.path.join(folders[0], f"{len(written):06d}_{stem}.{extension}")
            _save(image, path, max_side, options)
            written.append(path)
            if len(written) % 1000 == 0:
                log(f"{len(written)} images read and written")

    count = test_count if test_count is not None else round(test_ratio * len(written))
    if not 0 < count < len(written):
        flag = f"--test-count {test_count}" if test_count is not None else f"--test-ratio {test_ratio}"
        raise SplitError(f"{flag}: {source} gave {len(written)} unique readable images, too few to hold out "
                         f"{count} for testing and keep some for training. Nothing was replaced. Use a smaller "
                         f"--test-count (at most {max(0, len(written) - 1)}) or add images.")
    for path in random.Random(seed).sample(written, count):
        tf.io.gfile.rename(path, os.path.join(folders[1], os.path.basename(path)))
    _check_no_leak(*folders)
    return report


def _save(image, path, max_side, options):
    picture = Image.fromarray(image)
    picture.thumbnail((max_side, max_side), Image.LANCZOS)  # only ever shrinks, keeps the aspect ratio
    buffer = io.BytesIO()
    picture.save(buffer, format="png" if path.endswith(".png") else "jpeg", **options)
    write_bytes(buffer.getvalue(), path)


def file_hashes(folder):
    hashes = {}
    for name in tf.io.gfile.listdir(folder):
        with tf.io.gfile.GFile(os.path.join(folder, name), "rb") as f:
            hashes[hashlib.sha1(f.read()).hexdigest()] = name
    return hashes


def _check_no_leak(train_folder, test_folder):
    shared = set(file_hashes(train_folder)) & set(file_hashes(test_folder))
    if shared:  # cannot happen after the deduplication above; checked because a leak would void the test set
        raise DataError(f"{len(shared)} images are in both {train_folder}/ and {test_folder}/.")
