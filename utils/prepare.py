"""Fill train1/ val1/ test1/ (real) or train2/ val2/ test2/ (manga) from a folder, an archive or a
tensorflow-datasets builder.

Every image is read by the one reading path (so every written file is a clean RGB image), exact
duplicates (same pixels) are kept once, and the held-out faces (test, then validation) are drawn only
from faces with no near duplicate anywhere in the source (near_duplicates), so no face, nor another
encoding, crop or expression variant of it, is on both sides; a check of the written files confirms it.
"""
import hashlib
import io
import os
import tarfile
import zipfile
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from PIL import Image

from utils import reading
from utils.data import DataError, layout_folders
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


def items(source, tfds_dir=None, skip=()):
    """(name, read) pairs of `source`; read() gives RGB pixels or raises UnreadableImage.

    source: a folder (searched recursively), a .zip/.tar/.tgz archive, or tfds:NAME[:SPLIT]. Folders
    under `skip` (the destination's own, when it lies inside the source) are not searched.
    Names that are not images' are counted (yielded as (name, None)), not read.
    """
    if source.startswith("tfds:"):
        yield from _tfds_items(source[len("tfds:"):], tfds_dir)
    elif tf.io.gfile.isdir(source):
        for folder, _, names in sorted(tf.io.gfile.walk(source)):
            if any(_inside(folder, other) for other in skip):
                continue
            for name in sorted(names):
                path = os.path.join(folder, name)
                yield (path, (lambda p=path: reading.read_rgb(p)) if _is_image(name) else None)
    elif source.lower().endswith(ARCHIVES) and tf.io.gfile.exists(source):
        yield from _archive_items(source)
    else:
        raise DataError(f"Source {source} is neither a folder, nor a .zip/.tar/.tgz archive, nor tfds:NAME "
                        f"(a tensorflow-datasets builder such as tfds:celeb_a). Check the path.")


def _inside(path, folder):
    """Whether local `path` is `folder` or lies under it."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


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
    """The source holds too few images for the asked-for held-out faces (a flag to change)."""


# Two images are one face when their 16x16 thumbnails (pixels on [0, 1]) differ by less than this root mean
# square. Measured on ../shared/data: a JPEG re-encode (quality 30-95) or a 2x resize moves a thumbnail by at
# most 0.018 (photos) and 0.028 (manga); the closest distinct photos (same person, another photo) are 0.062
# apart; manga sets hold the same drawing with another expression or colouring up to about 0.1 apart.
# 8x8 or 16x16 mean hashes could not tell these apart: a re-encode flips up to 11 of 256 bits, while
# distinct photos come within 6.
NEAR_DUPLICATE = {"real": 0.05, "manga": 0.11}
THUMBNAIL = 16


def thumbnail(rgb):
    """uint8 HxWx3 -> the image averaged down to 16x16, as a float32 vector on [0, 1]."""
    small = Image.fromarray(rgb).resize((THUMBNAIL, THUMBNAIL), Image.BOX)
    return np.asarray(small, np.float32).reshape(-1) / 255.0


def thumbnail_distances(a, b):
    """Root mean square difference between each thumbnail of `a` and each of `b`: (len(a), len(b))."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0) / a.shape[1])


def near_duplicates(a, b, threshold, block=2048):
    """[(i, j)]: pairs of thumbnails a[i], b[j] closer than `threshold`, in blocks of rows of `a`."""
    pairs = []
    for start in range(0, len(a), block):
        rows, columns = np.nonzero(thumbnail_distances(a[start:start + block], b) < threshold)
        pairs += [(start + int(i), int(j)) for i, j in zip(rows, columns)]
    return pairs


def folder_thumbnails(folder):
    """(file names, thumbnails) of the images in `folder`, read as training reads them."""
    names = sorted(tf.io.gfile.listdir(folder))
    return names, np.stack([thumbnail(reading.read_rgb(os.path.join(folder, name))) for name in names])


def leaks(folders, threshold):
    """[(folder_a, name_a, folder_b, name_b)]: images of two different `folders` that are the same file or near
    duplicates (a thumbnail distance under `threshold`)."""
    read = {folder: folder_thumbnails(folder) for folder in folders}
    hashes = {folder: file_hashes(folder) for folder in folders}
    found = []
    for i, first in enumerate(folders):
        for second in folders[i + 1:]:
            found += [(first, hashes[first][h], second, hashes[second][h]) for h in set(hashes[first]) & set(hashes[second])]
            (names_a, a), (names_b, b) = read[first], read[second]
            found += [(first, names_a[i], second, names_b[j]) for i, j in near_duplicates(a, b, threshold)]
    return sorted(set(found))


@dataclass(frozen=True)
class Split:
    """How many unique images to hold out: a count, or else a share, for test and validation."""
    test_ratio: float = 0.05
    test_count: int = None
    val_ratio: float = 0.05
    val_count: int = None
    seed: int = 0

    def counts(self, total):
        """(test, validation) counts of `total` unique images."""
        pick = lambda count, ratio: count if count is not None else max(1, round(ratio * total))  # noqa: E731
        return pick(self.test_count, self.test_ratio), pick(self.val_count, self.val_ratio)

    def flags(self):
        return " and ".join(f"--{name.replace('_', '-')} {getattr(self, name)}" for name in
                            ("test_count" if self.test_count is not None else "test_ratio",
                             "val_count" if self.val_count is not None else "val_ratio"))


def prepare(domain, source, out=".", split=Split(), limit=None, faces=None, max_side=256, replace=False,
            tfds_dir=None, log=print):
    """Write the unique readable images of `source` into the domain's train, validation and test folders.

    Nothing in place is touched until the whole source has been read and written: the images go into
    staging folders beside the destination, which replace it only once complete (a failure or Ctrl-C
    leaves the destination as it was and removes the staging folders).
    """
    folders = [os.path.join(out, folder) for folder in layout_folders(domain)]  # train, val, test
    for folder in folders:
        if tf.io.gfile.isdir(folder) and tf.io.gfile.listdir(folder) and not replace:
            raise DataError(f"{folder}/ already holds {len(tf.io.gfile.listdir(folder))} files. Nothing was "
                            f"written. Pass --replace to replace {', '.join(f + '/' for f in folders)} once the "
                            f"new images are ready, or --out for another folder.")
        _refuse_source_inside(source, folder)
    staged = [_staging(folder) for folder in folders]
    try:
        for folder in staged:
            if tf.io.gfile.exists(folder):
                tf.io.gfile.rmtree(folder)  # left over from an interrupted run
            tf.io.gfile.makedirs(folder)
        skip = [] if "://" in out else folders + staged  # the destination's own folders are not source images
        report = _write(domain, source, staged, split, limit, faces, max_side, tfds_dir, skip, log)
        for stage, folder in zip(staged, folders):
            _swap_in(stage, folder)
    finally:
        for folder in staged:
            if tf.io.gfile.exists(folder):
                tf.io.gfile.rmtree(folder)
    report.written = {folder: len(tf.io.gfile.listdir(folder)) for folder in folders}
    return report


STAGING_PREFIX = ".incoming_"


def _staging(folder):
    parent, name = os.path.split(folder.rstrip("/"))
    return os.path.join(parent, STAGING_PREFIX + name)


def _refuse_source_inside(source, folder):
    if "://" in source or source.startswith("tfds:"):
        return
    if _inside(source, folder):
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


def _write(domain, source, folders, split, limit, faces, max_side, tfds_dir, skip, log):
    """Read every image of `source` into the train folder of `folders`, then move the held-out draws to the
    test and validation folders."""
    report, seen, written, thumbnails = Report(), set(), [], []
    extension, options = FORMATS[domain]
    for name, read in items(source, tfds_dir, skip):
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
            thumbnails.append(_save(image, path, max_side, options))
            written.append(path)
            if len(written) % 1000 == 0:
                log(f"{len(written)} images read and written")

    test_count, val_count = split.counts(len(written))
    held_out = _held_out(np.stack(thumbnails) if thumbnails else np.zeros((0, 3 * THUMBNAIL ** 2)),
                         test_count + val_count, NEAR_DUPLICATE[domain], split.seed)
    if len(held_out) < test_count + val_count or test_count + val_count >= len(written):
        raise SplitError(f"{split.flags()}: {source} gave {len(written)} unique readable images, of which "
                         f"{len(held_out)} have no near duplicate in the source (held-out faces are drawn from "
                         f"those only): too few to hold out {test_count} for testing and {val_count} for "
                         f"validation and keep some for training. Nothing was replaced. Lower the counts or add "
                         f"images.")
    for i, index in enumerate(held_out):
        destination = folders[2] if i < test_count else folders[1]
        tf.io.gfile.rename(written[index], os.path.join(destination, os.path.basename(written[index])))
    _check_no_leak(folders, NEAR_DUPLICATE[domain])
    return report


def _held_out(thumbnails, count, threshold, seed, block=512):
    """Up to `count` indices drawn at random (seeded) among the images with no near duplicate in the set."""
    order, chosen = np.random.default_rng(seed).permutation(len(thumbnails)), []
    for start in range(0, len(order), block):
        candidates = order[start:start + block]
        close = thumbnail_distances(thumbnails[candidates], thumbnails) < threshold
        close[np.arange(len(candidates)), candidates] = False  # each image is close to itself
        chosen += [int(index) for index, near in zip(candidates, close.any(1)) if not near]
        if len(chosen) >= count:
            break
    return chosen[:count]


def _save(image, path, max_side, options):
    """Write `image` to `path`; returns the thumbnail of the file as written (what a later check reads)."""
    picture = Image.fromarray(image)
    picture.thumbnail((max_side, max_side), Image.LANCZOS)  # only ever shrinks, keeps the aspect ratio
    buffer = io.BytesIO()
    picture.save(buffer, format="png" if path.endswith(".png") else "jpeg", **options)
    write_bytes(buffer.getvalue(), path)
    return thumbnail(reading.rgb_from_bytes(buffer.getvalue()))


def file_hashes(folder):
    hashes = {}
    for name in tf.io.gfile.listdir(folder):
        with tf.io.gfile.GFile(os.path.join(folder, name), "rb") as f:
            hashes[hashlib.sha1(f.read()).hexdigest()] = name
    return hashes


def _check_no_leak(folders, threshold):
    found = leaks(folders, threshold)
    if found:  # cannot happen after the draw above; checked because a leak would void the held-out faces
        first = found[0]
        raise DataError(f"{len(found)} images are in two of {', '.join(f + '/' for f in folders)} (first: "
                        f"{first[0]}/{first[1]} and {first[2]}/{first[3]}).")
