"""Face crop: faces anywhere in a large photo come out aligned like the training faces."""
import os

import numpy as np
import pytest
from PIL import Image

from utils.faces import FRAME, FaceCropper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def cropper():
    return FaceCropper()


def _face(name):
    return Image.open(os.path.join(ROOT, "test1", name)).convert("RGB")


def _correlation(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return np.corrcoef(a - a.mean(), b - b.mean())[0, 1]


def test_two_small_turned_faces_in_a_large_photo_come_out_aligned(cropper):
    faces = [_face("003001.jpg"), _face("003002.jpg")]
    photo = Image.new("RGB", (1200, 900), (70, 90, 60))
    # Each face 2x larger and tilted, at places far from the centre: a face takes ~5% of the frame.
    photo.paste(faces[0].resize((178, 218)).rotate(12, expand=False, fillcolor=(70, 90, 60)), (80, 560))
    photo.paste(faces[1].resize((178, 218)).rotate(-8, expand=False, fillcolor=(70, 90, 60)), (900, 100))
    crops = cropper.crop(np.asarray(photo))
    assert len(crops) == 2
    for crop, face in zip(crops, faces):                  # left to right
        assert crop.shape == (FRAME[1], FRAME[0], 3)
        centre = (slice(20, 90), slice(15, 75))          # the face itself, not the filled-in corners
        assert _correlation(crop[centre], np.asarray(face)[centre]) > 0.8


def test_a_photo_without_a_face_gives_no_crop(cropper):
    rng = np.random.default_rng(0)
    assert cropper.crop(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)) == []
