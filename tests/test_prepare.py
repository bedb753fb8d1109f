"""prepare_data.py: folders, archives and tensorflow-datasets into the report's layout, without leaks."""
import io
import os
import tarfile
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

import prepare_data as prepare_data_py
from conftest import face_like
from utils.data import DataError
from utils.prepare import NEAR_DUPLICATE, Split, file_hashes, leaks, prepare

QUIET = lambda line: None  # noqa: E731
ONE_EACH, TWO_EACH = Split(test_count=1, val_count=1), Split(test_count=2, val_count=2)


def _png(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "png")
    return buffer.getvalue()


def _faces(count, seed, size=(40, 32)):
    rng = np.random.default_rng(seed)
    return [face_like(rng, *size) for _ in range(count)]


def _fill(folder, images):
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(images):
        with open(os.path.join(folder, f"img{i:03d}.png"), "wb") as f:
            f.write(_png(image))


def test_folder_source_drops_duplicates_and_bad_files_and_never_leaks(tmp_path):
    source = tmp_path / "photos"
    images = _faces(30, seed=1)
    _fill(source / "a", images[:20])
    _fill(source / "b" / "deeper", images[15:])                # 5 exact duplicates of a/, in a subfolder
    (source / "a" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (source / "a" / "notes.txt").write_text("not an image")
    report = prepare("real", str(source), out=str(tmp_path / "data"), split=Split(test_count=5, val_count=3), log=QUIET)

    folders = [str(tmp_path / "data" / name) for name in ("train1", "val1", "test1")]
    assert report.written == dict(zip(folders, (22, 3, 5)))
    assert report.duplicates == 5 and report.not_images == 1
    assert [os.path.basename(name) for name, _ in report.unreadable] == ["broken.jpg"]
    assert leaks(folders, NEAR_DUPLICATE["real"]) == []
    assert all(name.endswith(".jpg") for folder in folders for name in file_hashes(folder).values())


def test_held_out_faces_have_no_near_duplicate_anywhere_in_the_source(tmp_path):
    # Each face also saved again at JPEG quality 40: one face, two files that differ in every byte. With
    # only file hashes, such pairs would be split across train and test.
    faces = _faces(12, seed=13, size=(109, 89))
    os.makedirs(tmp_path / "photos")
    for i, face in enumerate(faces):
        Image.fromarray(face).save(tmp_path / "photos" / f"{'twice' if i < 8 else 'once'}{i}.png")
        if i < 8:
            Image.fromarray(face).save(tmp_path / "photos" / f"twice{i}_again.jpg", quality=40)
    report = prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "data"),
                     split=Split(test_count=2, val_count=2), log=QUIET)
    held_out = [name for folder in ("val1", "test1") for name in os.listdir(tmp_path / "data" / folder)]
    assert len(held_out) == 4 and all("_once" in name for name in held_out)   # only the faces saved once
    assert report.duplicates == 0
    with pytest.raises(DataError, match="of which 4 have no near duplicate"):
        prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "more"), split=Split(test_count=3, val_count=2),
                log=QUIET)


def test_same_seed_same_split(tmp_path):
    _fill(tmp_path / "manga", _faces(20, seed=2))
    splits = []
    for out in ("x", "y"):
        prepare("manga", str(tmp_path / "manga"), out=str(tmp_path / out), split=Split(test_ratio=0.25, seed=3),
                log=QUIET)
        splits.append([sorted(os.listdir(tmp_path / out / folder)) for folder in ("test2", "val2")])
    assert splits[0] == splits[1] and [len(names) for names in splits[0]] == [5, 1]


def test_kaggle_zip_and_cartoon_set_tgz(tmp_path):
    # The Kaggle anime-faces download: PNGs under data/data/ in a zip.
    with zipfile.ZipFile(tmp_path / "anime-faces.zip", "w") as archive:
        for i, image in enumerate(_faces(10, seed=4, size=(64, 64))):
            archive.writestr(f"data/data/{i}.png", _png(image))
    report = prepare("manga", str(tmp_path / "anime-faces.zip"), out=str(tmp_path / "data"), split=ONE_EACH, log=QUIET)
    assert sorted(report.written.values()) == [1, 1, 8]

    # The Cartoon Set archive: transparent 500x500 PNGs, each with a CSV of attributes.
    with tarfile.open(tmp_path / "cartoonset10k.tgz", "w:gz") as archive:
        for i in range(6):
            cartoon = np.zeros((500, 500, 4), np.uint8)
            cartoon[100:400, 100:400] = (250 * (i % 2), 50 * i, 250 - 50 * i, 255)  # a face on a transparent canvas
            for name, content in ((f"cartoonset10k/cs{i}.png", _png(cartoon)), (f"cartoonset10k/cs{i}.csv", b"")):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    report = prepare("manga", str(tmp_path / "cartoonset10k.tgz"), out=str(tmp_path / "cartoons"), split=ONE_EACH,
                     max_side=128, log=QUIET)
    assert sorted(report.written.values()) == [1, 1, 4] and report.not_images == 6
    written = tmp_path / "cartoons" / "train2" / sorted(os.listdir(tmp_path / "cartoons" / "train2"))[0]
    cartoon = np.asarray(Image.open(written))
    assert cartoon.shape == (128, 128, 3) and tuple(cartoon[0, 0]) == (255, 255, 255)   # canvas laid on white


def test_tensorflow_datasets_source_with_mock_data(tmp_path):
    # faces rather than the mock's random noise, whose thumbnails are all the same grey: near duplicates
    photos = np.stack(_faces(12, seed=14, size=(218, 178)))
    as_dataset = lambda *args, **kwargs: tf.data.Dataset.from_tensor_slices({"image": photos})  # noqa: E731
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        report = prepare("real", "tfds:celeb_a", out=str(tmp_path), split=ONE_EACH, log=QUIET)
    assert sorted(report.written.values()) == [1, 1, 10]
    assert Image.open(tmp_path / "train1" / sorted(os.listdir(tmp_path / "train1"))[0]).size == (178, 218)


def test_existing_folders_are_kept_unless_replace(tmp_path):
    _fill(tmp_path / "photos", _faces(8, seed=5))
    _fill(tmp_path / "data" / "train1", _faces(3, seed=6))
    with pytest.raises(DataError, match="train1/ already holds 3 files. Nothing was written"):
        prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "data"), log=QUIET)
    assert len(os.listdir(tmp_path / "data" / "train1")) == 3
    report = prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "data"), split=ONE_EACH, replace=True,
                     log=QUIET)
    assert sorted(report.written.values()) == [1, 1, 6]


def test_entry_point_reports_counts_and_errors(tmp_path, capsys):
    _fill(tmp_path / "photos", _faces(10, seed=7))
    prepare_data_py.main(["--real", str(tmp_path / "photos"), "--out", str(tmp_path / "data"), "--test-count", "2",
                          "--val-count", "1"])
    assert (f"{tmp_path / 'data' / 'train1'}/ 7, {tmp_path / 'data' / 'val1'}/ 1, {tmp_path / 'data' / 'test1'}/ 2"
            in capsys.readouterr().out)
    with pytest.raises(SystemExit, match="neither a folder"):
        prepare_data_py.main(["--manga", str(tmp_path / "typo"), "--out", str(tmp_path / "data")])


def _contents(folder):
    return sorted(os.listdir(folder)), file_hashes(folder)


@pytest.mark.parametrize("bad_source", ["typo_folder", "refused_download", "too_few"])
def test_replace_keeps_the_old_folders_when_the_new_source_fails(tmp_path, bad_source, monkeypatch):
    _fill(tmp_path / "photos", _faces(10, seed=8))
    prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "data"), split=TWO_EACH, log=QUIET)
    before = [_contents(tmp_path / "data" / name) for name in ("train1", "val1", "test1")]
    if bad_source == "typo_folder":
        source, error = str(tmp_path / "phtos"), "neither a folder"
    elif bad_source == "refused_download":
        monkeypatch.setattr(tfds, "builder", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("quota")))
        source, error = "tfds:celeb_a", "could not provide celeb_a"
    else:
        _fill(tmp_path / "two", _faces(2, seed=9))
        source, error = str(tmp_path / "two"), "--test-count 2 and --val-count 2: .* too few"
    with pytest.raises(DataError, match=error):
        prepare("real", source, out=str(tmp_path / "data"), split=TWO_EACH, replace=True, log=QUIET)
    assert [_contents(tmp_path / "data" / name) for name in ("train1", "val1", "test1")] == before
    assert sorted(os.listdir(tmp_path / "data")) == ["test1", "train1", "val1"]   # no staging folder left behind


def test_a_source_inside_the_folder_it_would_replace_is_refused(tmp_path):
    _fill(tmp_path / "photos", _faces(10, seed=10))
    prepare("real", str(tmp_path / "photos"), out=str(tmp_path), split=TWO_EACH, log=QUIET)
    before = _contents(tmp_path / "train1")
    with pytest.raises(DataError, match="is inside .*train1/, which this command would replace"):
        prepare("real", str(tmp_path / "train1"), out=str(tmp_path), split=TWO_EACH, replace=True, log=QUIET)
    assert _contents(tmp_path / "train1") == before


def test_replace_with_the_destination_inside_the_source_reads_the_source_once(tmp_path):
    # --real . --out . --replace: the destination's own train1/ val1/ test1/ (JPEG copies of photos/) and the
    # staging folders beside them are left out of the source: each face is read once, from photos/.
    _fill(tmp_path / "photos", _faces(10, seed=11))
    prepare("real", str(tmp_path / "photos"), out=str(tmp_path), split=TWO_EACH, log=QUIET)
    report = prepare("real", str(tmp_path), out=str(tmp_path), split=TWO_EACH, replace=True, log=QUIET)
    folders = [str(tmp_path / name) for name in ("train1", "val1", "test1")]
    assert report.written == dict(zip(folders, (6, 2, 2))) and report.duplicates == 0
    assert leaks(folders, NEAR_DUPLICATE["real"]) == []


def test_prepare_flags_are_checked_where_they_are_parsed(tmp_path, capsys):
    for flags, message in ((["--test-ratio", "1.5"], "--test-ratio: '1.5' is not allowed"),
                           (["--limit", "0"], "--limit: '0' is not allowed"),
                           (["--test-count", "-3"], "--test-count: '-3' is not allowed")):
        with pytest.raises(SystemExit) as exit_info:
            prepare_data_py.main(["--real", str(tmp_path)] + flags)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    _fill(tmp_path / "photos", _faces(5, seed=12))
    with pytest.raises(SystemExit) as exit_info:
        prepare_data_py.main(["--real", str(tmp_path / "photos"), "--out", str(tmp_path / "d"), "--test-count", "9"])
    assert exit_info.value.code == 2 and "--test-count 9 and --val-ratio 0.05: " in capsys.readouterr().err
