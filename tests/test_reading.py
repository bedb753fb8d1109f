"""The one image-reading path: every format and mode becomes RGB; bad files are named, never fatal."""
import io
import os

import numpy as np
import pytest
from PIL import Image

from utils import reading

RED = (200, 30, 40)


def _encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _write(folder, name, content):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def _rgb_pixel(content):
    return reading.rgb_from_bytes(content)[2, 2]


@pytest.mark.parametrize("fmt,extension", [("JPEG", "jpg"), ("PNG", "png"), ("BMP", "bmp"), ("GIF", "gif"),
                                           ("WEBP", "webp")])
def test_every_format_reads_as_rgb(fmt, extension, tmp_path):
    path = _write(tmp_path, f"face.{extension}", _encoded(Image.new("RGB", (40, 30), RED), fmt))
    pixels = reading.read_rgb(path)
    assert pixels.shape == (30, 40, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels[15, 20].astype(int) - RED).max() <= 12    # lossy formats stay close


@pytest.mark.parametrize("fmt", ["TIFF", "EPS", "PPM", "ICO"])
def test_formats_not_promised_are_not_decoded(fmt):
    # Pillow opens these too (EPS through Ghostscript where it is installed); only the five promised are read
    content = _encoded(Image.new("RGB", (40, 30), RED), fmt)
    assert Image.open(io.BytesIO(content)).format == fmt
    with pytest.raises(reading.UnreadableImage, match=r"not an image file of the kinds read here \(JPEG, PNG, BMP, GIF, WebP\)"):
        reading.rgb_from_bytes(content)


@pytest.mark.parametrize("image,expected", [
    (Image.new("L", (8, 8), 128), (128, 128, 128)),                          # grayscale
    (Image.new("RGB", (8, 8), RED).quantize(4), RED),                        # palette
    (Image.new("RGBA", (8, 8), (0, 0, 0, 0)), (255, 255, 255)),              # transparent: on white
    (Image.new("LA", (8, 8), (0, 0)), (255, 255, 255)),
    (Image.fromarray(np.full((8, 8), 65535, np.uint16)), (255, 255, 255)),   # 16-bit grayscale
])
def test_every_mode_becomes_rgb(image, expected):
    assert tuple(_rgb_pixel(_encoded(image, "PNG"))) == expected


def test_half_transparent_pixels_are_laid_on_white():
    assert tuple(_rgb_pixel(_encoded(Image.new("RGBA", (8, 8), (0, 0, 0, 128)), "PNG"))) == (127, 127, 127)


def test_cmyk_jpeg_becomes_rgb():
    pixels = reading.rgb_from_bytes(_encoded(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    assert pixels.shape == (8, 8, 3) and pixels[2, 2, 0] > 200 and pixels[2, 2, 1] < 60    # red


def test_gif_animation_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, (0, 0, 255))]
    content = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert tuple(_rgb_pixel(content)) == RED


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), RED)                  # landscape as stored ...
    exif = Image.Exif()
    exif[0x0112] = 6                                          # ... "rotate 90 degrees" for display
    assert reading.rgb_from_bytes(_encoded(image, "JPEG", exif=exif)).shape == (40, 20, 3)


def test_scan_names_each_kind_of_bad_file(tmp_path):
    good = _write(tmp_path, "good.png", _encoded(Image.new("RGB", (8, 8), RED), "PNG"))
    jpeg = _encoded(Image.new("RGB", (64, 64), RED), "JPEG")
    bad = {
        _write(tmp_path, "empty.jpg", b""): "empty file",
        _write(tmp_path, "notes.txt", b"some notes"): "not an image",
        _write(tmp_path, ".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(100)): "not an image",
        _write(tmp_path, "truncated.jpg", jpeg[:len(jpeg) // 2]): "truncated",
        _write(tmp_path, "corrupt.png", b"\x89PNG\r\n\x1a\n" + bytes(60)): "corrupt",
        str(tmp_path / "gone.jpg"): "cannot be opened",     # listed, then deleted
    }
    readable, skipped = reading.scan([good] + list(bad))
    assert readable == [good]
    assert [path for path, _ in skipped] == list(bad)
    for path, reason in skipped:
        assert bad[path] in reason, (path, reason)
    message = reading.describe_bad(skipped)
    assert all(path in message for path in bad)
