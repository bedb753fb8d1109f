import os

import pytest
from PIL import Image

import evaluate as evaluate_py
import model as model_py
import train as train_py
import translate as translate_py
from conftest import TINY_MODEL_FLAGS, write_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("entry_point", [model_py, train_py, translate_py, evaluate_py])
def test_help(entry_point, capsys):
    with pytest.raises(SystemExit) as exit_info:
        entry_point.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_train_without_models_says_to_run_model_py(tmp_path):
    with pytest.raises(SystemExit, match="python model.py"):
        train_py.main(["--models", str(tmp_path / "nothing")])


def test_translate_without_trained_models_says_to_run_train_py(tmp_path):
    with pytest.raises(SystemExit, match="python train.py"):
        translate_py.main(["--models", str(tmp_path / "nothing")])


def test_train_checks_the_data_before_building_any_model(tmp_path, monkeypatch):
    model_py.main(["--out", str(tmp_path / "models")] + TINY_MODEL_FLAGS)
    monkeypatch.setattr(train_py, "load", lambda *args: pytest.fail("a model was loaded before the data check"))
    with pytest.raises(SystemExit, match="typo/ does not exist"):
        train_py.main(["--models", str(tmp_path / "models"), "--data-dir", str(tmp_path / "typo")])


def test_model_train_translate_end_to_end(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tiny_data)          # translate.py's defaults read test1/ test2/ and write results/
    model_py.main(["--out", "models"] + TINY_MODEL_FLAGS)
    train_py.main(["--max-steps", "2", "--batch-size", "4"])
    assert os.path.isfile("runs/xgan/models/xgan.keras")        # where translate.py looks by default

    translate_py.main([])
    for direction, inputs in (("real2manga", "test1"), ("manga2real", "test2")):
        written = sorted(os.listdir(os.path.join("results", direction)))
        stems = sorted(os.path.splitext(name)[0] for name in os.listdir(inputs))
        assert written == sorted([stem + ".png" for stem in stems] + ["grid.png"])
        assert Image.open(os.path.join("results", direction, stems[0] + ".png")).size == (32, 32)

    evaluate_py.main(["--features", "none"])   # no KID/FID network: the other measures still run
    report = capsys.readouterr().out
    assert "domain score" in report and "KID and FID not computed: --features none" in report
    assert os.path.isfile("results/index.html") and os.path.isfile("results/metrics.json")

    # Own images of any size, one unreadable file among them: the good ones are translated, the bad one named.
    write_images(str(tmp_path / "mine"), 2, 300, 200, seed=9, ext="jpg")
    (tmp_path / "mine" / "broken.png").write_bytes(b"not a png")
    translate_py.main(["--input", str(tmp_path / "mine"), "--output", str(tmp_path / "out"), "--direction", "manga2real"])
    assert sorted(os.listdir(tmp_path / "out")) == ["000.png", "001.png", "grid.png"]

    with pytest.raises(SystemExit, match="none of the 1 inputs"):
        translate_py.main(["--input", str(tmp_path / "mine" / "broken.png"), "--output", str(tmp_path / "out2")])

    # --face-crop: a photo with no face is named as such; the faces of the others are translated.
    photo = Image.new("RGB", (600, 400), (70, 90, 60))
    photo.paste(Image.open(os.path.join(ROOT, "test1", "003001.jpg")).resize((178, 218)), (350, 100))
    photo.save(tmp_path / "mine" / "photo.jpg")
    translate_py.main(["--input", str(tmp_path / "mine"), "--output", str(tmp_path / "faces"), "--face-crop"])
    assert sorted(os.listdir(tmp_path / "faces")) == ["grid.png", "photo_face1.png"]
    skipped = capsys.readouterr().err
    assert "000.jpg: no face found" in skipped and "broken.png" in skipped
