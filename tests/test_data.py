
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from utils import data


def test_real_photo_becomes_a_centred_square_on_minus_one_to_one():
    image = np.zeros((109, 89, 3), np.uint8)
    image[10:99, :] = 255                        # the centred 89x89 square is white, top and bottom rows black
    x = data.to_model_input(tf.constant(image), crop=1.0, size=64).numpy()
    assert x.shape == (64, 64, 3)
    np.testing.assert_allclose(x, 1.0, atol=1e-5)
    x = data.to_model_input(tf.constant(image), crop=0.5, size=16).numpy()
    assert x.shape == (16, 16, 3) and x.min() >= -1 and x.max() <= 1


def test_training_batches_are_unpaired_domains_of_the_right_shape(tiny_config, tiny_data):
    files = data.domain_files(tiny_data, data.TRAIN_FOLDERS)
    assert len(files["real"]) == 12 and len(files["manga"]) == 8
    x_real, x_manga = next(iter(data.training_dataset(files, tiny_config)))
    assert x_real.shape == x_manga.shape == (4, 32, 32, 3)
    assert -1 <= x_real.numpy().min() and x_real.numpy().max() <= 1
    assert data.steps_per_epoch(files, tiny_config) == 3


def test_the_two_domains_are_shuffled_each_in_its_own_order(tiny_config, tmp_path):
    # 8 faces per domain, each one flat grey that tells its index; one epoch is 2 batches of 4
    files = {}
    for domain, folder in data.TRAIN_FOLDERS.items():
        (tmp_path / folder).mkdir()
        files[domain] = []
        for i in range(8):
            files[domain].append(str(tmp_path / folder / f"{i:03d}.png"))
            Image.new("RGB", (36, 44) if domain == "real" else (32, 32), (20 * i + 10,) * 3).save(files[domain][-1])
    order = {"real": [], "manga": []}
    for x_real, x_manga in data.training_dataset(files, tiny_config).take(2):
        for domain, x in (("real", x_real), ("manga", x_manga)):
            order[domain] += [round(((v + 1) * 127.5 - 10) / 20) for v in x.numpy().mean(axis=(1, 2, 3))]
    assert sorted(order["real"]) == sorted(order["manga"]) == list(range(8))   # each face once an epoch
    assert order["real"] != order["manga"]                                     # unpaired: orders differ
    assert order["real"] != list(range(8)) != order["manga"]                   # shuffled


def test_missing_folder_is_named_with_what_was_found(tmp_path):
    (tmp_path / "train_1").mkdir()
    with pytest.raises(data.DataError) as error:
        data.domain_files(str(tmp_path), data.TRAIN_FOLDERS)
    message = str(error.value)
    assert "train1/ does not exist" in message and "train_1/ looks like it: rename it to train1/" in message


def test_missing_data_dir_is_named(tmp_path):
    with pytest.raises(data.DataError, match=f"Folder {tmp_path}/typo/ does not exist.*--data-dir"):
        data.domain_files(str(tmp_path / "typo"), data.TRAIN_FOLDERS)


def test_empty_folder_is_named(tmp_path):
    (tmp_path / "train1").mkdir()
    with pytest.raises(data.DataError, match="train1/ is empty"):
        data.list_images(str(tmp_path / "train1"))


def test_folder_without_readable_images_is_named(tmp_path):
    (tmp_path / "train1").mkdir()
    (tmp_path / "train1" / "notes.txt").write_text("not an image")
    with pytest.raises(data.DataError, match=r"train1/ holds 0 readable images \(1 other files\)"):
        data.domain_files(str(tmp_path), {"real": "train1"}, log=lambda line: None)


def test_folder_smaller_than_a_batch_is_an_error(tiny_data):
    with pytest.raises(data.DataError, match="fewer than one batch"):
        data.domain_files(tiny_data, data.TRAIN_FOLDERS, min_count=10)


def test_bad_files_are_skipped_with_one_warning_naming_them(tiny_data):
    (open(f"{tiny_data}/train1/.DS_Store", "wb")).write(b"\x00\x01")
    (open(f"{tiny_data}/train2/broken.png", "wb")).write(b"\x89PNG broken")
    warnings = []
    files = data.domain_files(tiny_data, data.TRAIN_FOLDERS, log=warnings.append)
    assert len(files["real"]) == 12 and len(files["manga"]) == 8
    assert len(warnings) == 1 and ".DS_Store" in warnings[0] and "broken.png" in warnings[0]
