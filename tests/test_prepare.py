"""prepare_data.py: folders, archives and tensorflow-datasets into the report's layout, without leaks."""
import io
import os
import tarfile
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

import prepare_data as prepare_data_py
from conftest import face_like
from utils.data import DataError
from utils.prepare import file_hashes, prepare

QUIET = lambda line: None  # noqa: E731


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
    report = prepare("real", str(source), out=str(tmp_path / "data"), test_count=5, log=QUIET)

    assert report.written == {str(tmp_path / "data" / "train1"): 25, str(tmp_path / "data" / "test1"): 5}
    assert report.duplicates == 5 and report.not_images == 1
    assert [os.path.basename(name) for name, _ in report.unreadable] == ["broken.jpg"]
    train, test = file_hashes(tmp_path / "data" / "train1"), file_hashes(tmp_path / "data" / "test1")
    assert not set(train) & set(test)
    assert all(name.endswith(".jpg") for name in list(train.values()) + list(test.values()))


def test_same_seed_same_split(tmp_path):
    _fill(tmp_path / "manga", _faces(20, seed=2))
    splits = []
    for out in ("x", "y"):
        prepare("manga", str(tmp_path / "manga"), out=str(tmp_path / out), test_ratio=0.25, seed=3, log=QUIET)
        splits.append(sorted(os.listdir(tmp_path / out / "test2")))
    assert splits[0] == splits[1] and len(splits[0]) == 5


def test_kaggle_zip_and_cartoon_set_tgz(tmp_path):
    # The Kaggle anime-faces download: PNGs under data/data/ in a zip.
    with zipfile.ZipFile(tmp_path / "anime-faces.zip", "w") as archive:
        for i, image in enumerate(_faces(10, seed=4, size=(64, 64))):
            archive.writestr(f"data/data/{i}.png", _png(image))
    report = prepare("manga", str(tmp_path / "anime-faces.zip"), out=str(tmp_path / "data"), test_count=2, log=QUIET)
    assert sorted(report.written.values()) == [2, 8]

    # The Cartoon Set archive: transparent 500x500 PNGs, each with a CSV of attributes.
    with tarfile.open(tmp_path / "cartoonset10k.tgz", "w:gz") as archive:
        for i in range(6):
            cartoon = np.zeros((500, 500, 4), np.uint8)
            cartoon[150:350, 150:350] = (200, 120, 60, 255)       # a face on a transparent canvas
            for name, content in ((f"cartoonset10k/cs{i}.png", _png(cartoon + i)), (f"cartoonset10k/cs{i}.csv", b"")):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    report = prepare("manga", str(tmp_path / "cartoonset10k.tgz"), out=str(tmp_path / "cartoons"), test_count=1,
                     max_side=128, log=QUIET)
    assert sorted(report.written.values()) == [1, 5] and report.not_images == 6
    written = tmp_path / "cartoons" / "train2" / sorted(os.listdir(tmp_path / "cartoons" / "train2"))[0]
    cartoon = np.asarray(Image.open(written))
    assert cartoon.shape == (128, 128, 3) and tuple(cartoon[0, 0]) == (255, 255, 255)   # canvas laid on white


def test_tensorflow_datasets_source_with_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=12):
        report = prepare("real", "tfds:celeb_a", out=str(tmp_path), test_count=2, log=QUIET)
    assert sorted(report.written.values()) == [2, 10]
    assert Image.open(tmp_path / "train1" / sorted(os.listdir(tmp_path / "train1"))[0]).size == (178, 218)


def test_existing_folders_are_kept_unless_replace(tmp_path):
    _fill(tmp_path / "photos", _faces(8, seed=5))
    _fill(tmp_path / "data" / "train1", _faces(3, seed=6))
    with pytest.raises(DataError, match="train1/ already holds 3 files. Nothing was written"):
        prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "data"), log=QUIET)
    assert len(os.listdir(tmp_path / "data" / "train1")) == 3
    report = prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "data"), test_count=1, replace=True,
                     log=QUIET)
    assert sorted(report.written.values()) == [1, 7]


def test_entry_point_reports_counts_and_errors(tmp_path, capsys):
    _fill(tmp_path / "photos", _faces(10, seed=7))
    prepare_data_py.main(["--real", str(tmp_path / "photos"), "--out", str(tmp_path / "data"), "--test-count", "2"])
    assert f"{tmp_path / 'data' / 'train1'}/ 8, {tmp_path / 'data' / 'test1'}/ 2" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="neither a folder"):
        prepare_data_py.main(["--manga", str(tmp_path / "typo"), "--out", str(tmp_path / "data")])


def _contents(folder):
    return sorted(os.listdir(folder)), file_hashes(folder)


@pytest.mark.parametrize("bad_source", ["typo_folder", "refused_download", "too_few"])
def test_replace_keeps_the_old_folders_when_the_new_source_fails(tmp_path, bad_source, monkeypatch):
    _fill(tmp_path / "photos", _faces(10, seed=8))
    prepare("real", str(tmp_path / "photos"), out=str(tmp_path / "data"), test_count=2, log=QUIET)
    before = [_contents(tmp_path / "data" / name) for name in ("train1", "test1")]
    if bad_source == "typo_folder":
        source, error = str(tmp_path / "phtos"), "neither a folder"
    elif bad_source == "refused_download":
        monkeypatch.setattr(tfds, "builder", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("quota")))
        source, error = "tfds:celeb_a", "could not provide celeb_a"
    else:
        _fill(tmp_path / "two", _faces(2, seed=9))
        source, error = str(tmp_path / "two"), "--test-count 2: .* too few"
    with pytest.raises(DataError, match=error):
        prepare("real", source, out=str(tmp_path / "data"), test_count=2, replace=True, log=QUIET)
    assert [_contents(tmp_path / "data" / name) for name in ("train1", "test1")] == before
    assert sorted(os.listdir(tmp_path / "data")) == ["test1", "train1"]           # no staging folder left behind


def test_a_source_inside_the_folder_it_would_replace_is_refused(tmp_path):
    _fill(tmp_path / "photos", _faces(10, seed=10))
    prepare("real", str(tmp_path / "photos"), out=str(tmp_path), test_count=2, log=QUIET)
    before = _contents(tmp_path / "train1")
    with pytest.raises(DataError, match="is inside .*train1/, which this command would replace"):
        prepare("real", str(tmp_path / "train1"), out=str(tmp_path), test_count=2, replace=True, log=QUIET)
    assert _contents(tmp_path / "train1") == before


def test_replace_with_the_destination_inside_the_source_reads_the_source_once(tmp_path):
    # --real . --out . --replace: the old train1/ and test1/ are part of the source; the new images are
    # staged beside them and never read back as source images.
    _fill(tmp_path / "photos", _faces(10, seed=11))
    prepare("real", str(tmp_path / "photos"), out=str(tmp_path), test_count=2, log=QUIET)
    report = prepare("real", str(tmp_path), out=str(tmp_path), test_count=2, replace=True, log=QUIET)
    # photos/ and the old train1/ test1/ (JPEG copies: other pixels, so not duplicates), nothing staged
    assert sorted(report.written.values()) == [2, 18] and report.duplicates == 0


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
    assert exit_info.value.code == 2 and "--test-count 9: " in capsys.readouterr().err
