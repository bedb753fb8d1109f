"""The one way this project reads an image file: any format and mode a user has -> RGB uint8 pixels.

JPEG, PNG, BMP, GIF (first frame) and WebP of any size; grayscale, palette, 16-bit, CMYK become RGB;
transparent pixels are laid on white (the background of most manga art); EXIF orientation is applied,
so a phone photo stands the way it was taken.
"""
import io
import sys
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP")  # what is promised (a phone's MPO opens as a JPEG)
WHITE = (255, 255, 255, 255)
SCAN_BAR_FROM = 500  # files; smaller scans end before a bar would help


class UnreadableImage(ValueError):
    """The file is not an image this project can read; the message says why."""


class TooLarge(UnreadableImage):
    """An image that would decode to more pixels than allowed."""


def read_rgb(path):
    """Pixels of the image at `path` (local or gs://) as uint8 HxWx3; UnreadableImage if it cannot be read."""
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            content = f.read()
    except tf.errors.OpError as error:
        raise UnreadableImage(f"cannot be opened ({error.message.splitlines()[0]})") from None
    return rgb_from_bytes(content)


def rgb_from_bytes(content, max_pixels=None):
    """Pixels of an image file's bytes; with `max_pixels`, refused (UnreadableImage) from its header alone if
    it would decode to more pixels than that (a small file can hold a huge picture)."""
    if not content:
        raise UnreadableImage("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(content), formats=FORMATS) as image:  # no other decoder (EPS: Ghostscript)
            if max_pixels and image.width * image.height > max_pixels:
                raise TooLarge(f"{image.width}x{image.height} pixels ({image.width * image.height / 1e6:.0f} "
                               f"megapixels), more than the {max_pixels / 1e6:.0f} megapixels read here")
            image.seek(0)  # the first frame of an animation
            return np.asarray(to_rgb(ImageOps.exif_transpose(image)))
    except UnreadableImage:  # TooLarge, from the header check above
        raise
    except UnidentifiedImageError:
        raise UnreadableImage("cannot be identified: not an image file of the kinds read here (JPEG, PNG, BMP, "
                              "GIF, WebP), or its header is corrupt") from None
    except Image.DecompressionBombError as error:  # Pillow's own limit, about 179 megapixels
        raise TooLarge(str(error).split(",")[0]) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableImage(f"corrupt or truncated image ({error})") from None


def to_rgb(image):
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit (or 32-bit) grayscale
        pixels = np.asarray(image, np.float32)
        image = Image.fromarray((pixels * (255 / (65535 if pixels.max() > 255 else 255))).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")  # a palette may hold a transparent colour
    if "A" in image.getbands():
        return Image.alpha_composite(Image.new("RGBA", image.size, WHITE), image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def check(path):
    """None if `path` reads as an image, else the reason it does not."""
    try:
        read_rgb(path)
    except UnreadableImage as error:
        return str(error)
    return None


def scan(paths, threads=8):
    """(readable paths, [(path, reason)] of the others), every file decoded once; a progress bar on large folders."""
    bar = (keras.utils.Progbar(len(paths), verbose=1 if sys.stdout.isatty() else 2, unit_name="file")
           if len(paths) >= SCAN_BAR_FROM else None)
    good, bad = [], []
    with ThreadPoolExecutor(threads) as pool:  # PIL decodes without the GIL
        for i, (path, reason) in enumerate(zip(paths, pool.map(check, paths))):
            if reason:
                bad.append((path, reason))
            else:
                good.append(path)
            if bar and (i % 100 == 99 or i == len(paths) - 1):
                bar.update(i + 1)
    return good, bad


def describe_bad(bad):
    """One warning naming every skipped file and why."""
    return f"warning: skipped {len(bad)} unreadable file(s):\n" + "\n".join(f"  {p}: {r}" for p, r in bad)
