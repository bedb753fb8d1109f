"""The bundled faces: no face, nor another encoding or expression of it, in two of train, validation and test."""
import io
import os
import shutil

import pytest
from PIL import Image

from utils.data import layout_folders
from utils.prepare import NEAR_DUPLICATE, leaks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("domain", ["real", "manga"])
def test_no_face_is_in_two_bundled_folders(domain):
    folders = [os.path.join(ROOT, folder) for folder in layout_folders(domain)]
    assert [len(os.listdir(folder)) >= count for folder, count in zip(folders, (2900, 300, 100))] == [True] * 3
    assert leaks(folders, NEAR_DUPLICATE[domain]) == []


@pytest.mark.parametrize("domain", ["real", "manga"])
def test_a_test_face_saved_again_into_the_validation_folder_is_found(domain, tmp_path):
    _, val, test = (os.path.join(ROOT, folder) for folder in layout_folders(domain))
    copy = shutil.copytree(val, tmp_path / "val")
    name = sorted(os.listdir(test))[0]
    buffer = io.BytesIO()
    Image.open(os.path.join(test, name)).convert("RGB").save(buffer, "jpeg", quality=40)  # other bytes, same face
    (copy / "again.jpg").write_bytes(buffer.getvalue())
    assert leaks([test, str(copy)], NEAR_DUPLICATE[domain]) == [(test, name, str(copy), "again.jpg")]
