import importlib
import json
import os
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import bench as bench_py
import evaluate as evaluate_py
import model as model_py
import train as train_py
import translate as translate_py
from conftest import TINY_MODEL_FLAGS, write_images
from utils.config import FLOAT32, PRESETS, Config, preset
from utils.distribute import fast_mixed_precision, fast_xla
from utils.networks import load
from utils.translation import model_inputs

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
        # its own --out: a run in the project's runs/xgan (the README's main line) must not decide this test
        train_py.main(["--models", str(tmp_path / "models"), "--data-dir", str(tmp_path / "typo"),
                       "--out", str(tmp_path / "run")])


def test_model_train_translate_end_to_end(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tiny_data)          # translate.py's defaults read test1/ test2/ and write results/
    model_py.main(["--out", "models"] + TINY_MODEL_FLAGS)
    train_py.main(["--max-steps", "2", "--batch-size", "4", "--quality-features", "classifier"])
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


@pytest.mark.parametrize("entry_point, flags, message", [
    (train_py, ["--batch-size", "0"], "--batch-size: '0' is not allowed: use a positive whole number"),
    (train_py, ["--log-every", "-5"], "--log-every: '-5' is not allowed"),
    (train_py, ["--checkpoint-every", "0"], "--checkpoint-every: '0' is not allowed"),
    (train_py, ["--warmup-epochs", "-1"], "--warmup-epochs: '-1' is not allowed: use 0 or more"),
    (train_py, ["--real-crop", "1.5"], "--real-crop: '1.5' is not allowed: use a number in (0, 1]"),
    (train_py, ["--gan-loss", "wgan"], "--gan-loss: 'wgan' is not allowed: use bce or lsgan or hinge"),
    (train_py, ["--augment", "color,blur"], "--augment: 'color,blur' is not allowed"),
    (model_py, ["--norm", "layer"], "--norm: 'layer' is not allowed: use batch or instance or none"),
    (model_py, ["--discriminator-head", "dense"], "--discriminator-head: 'dense' is not allowed"),
    (model_py, ["--encoder-pool", "max"], "--encoder-pool: 'max' is not allowed"),
    (model_py, ["--image-size", "60"], "--image-size 60: must be a multiple of 8"),
    (model_py, ["--encoder-private-filters", "32,x"], "--encoder-private-filters: expected whole numbers separated by commas"),
    (evaluate_py, ["--train-count", "1"], "--train-count: '1' is not allowed"),
    (translate_py, ["--sharpen", "-1"], "--sharpen: '-1' is not allowed: use 0 or more"),
    # inf and nan pass every ">= 0": each ended in an OverflowError or NaN images
    (train_py, ["--warmup-epochs", "inf"], "--warmup-epochs: 'inf' is not allowed: use a finite number"),
    (train_py, ["--decay-epochs", "inf"], "--decay-epochs: 'inf' is not allowed: use a finite number"),
    (train_py, ["--col-epochs", "inf"], "--col-epochs: 'inf' is not allowed: use a finite number"),
    (translate_py, ["--sharpen", "nan"], "--sharpen: 'nan' is not allowed: use a finite number"),
    (bench_py, ["--steps", "0"], "--steps: '0' is not allowed: use a positive whole number"),
])
def test_bad_flags_get_one_line_naming_the_flag_and_exit_code_2(entry_point, flags, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        entry_point.main(flags + (["--out", str(tmp_path / "m")] if entry_point is model_py else []))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


@pytest.fixture
def trained_run(tiny_data, monkeypatch):
    monkeypatch.chdir(tiny_data)
    model_py.main(["--out", "models"] + TINY_MODEL_FLAGS)
    train_py.main(["--max-steps", "2", "--batch-size", "4", "--quality-every", "0", "--jit-compile", "false"])
    return os.path.join(tiny_data, "runs", "xgan")


def test_resuming_keeps_the_runs_own_settings_and_records_every_start(trained_run, capsys):
    # Going on with another batch size would silently change the run: refused, nothing touched.
    with pytest.raises(SystemExit, match="--batch-size 8: the run in runs/xgan/ was started with --batch-size 4"):
        train_py.main(["--max-steps", "4", "--batch-size", "8"])
    with pytest.raises(SystemExit, match="--learning-rate 0.003: .* Pass --fresh"):
        train_py.main(["--max-steps", "4", "--learning-rate", "3e-3"])
    # Without the flag the run goes on at its own batch size; the interval flags and the decay's length,
    # which is counted back from the command's own end, may change.
    train_py.main(["--max-steps", "4", "--log-every", "1", "--decay-epochs", "1"])
    assert "resuming from the checkpoint of step 2" in capsys.readouterr().out
    settings = json.load(open(os.path.join(trained_run, "config.json")))
    assert (settings["batch_size"], settings["max_steps"], settings["log_every"], settings["decay_epochs"]) == (4, 4, 1, 1)
    starts = json.load(open(os.path.join(trained_run, "starts.json")))
    assert [(s["from_step"], s["settings"]["max_steps"]) for s in starts] == [(0, 2), (2, 4)]
    # --fresh starts over with the new value
    train_py.main(["--max-steps", "1", "--batch-size", "8", "--fresh", "--quality-every", "0"])
    starts = json.load(open(os.path.join(trained_run, "starts.json")))
    assert [(s["from_step"], s["settings"]["batch_size"]) for s in starts] == [(0, 8)]


def test_a_run_goes_on_wherever_its_folder_and_its_data_are(trained_run, tmp_path, capsys):
    moved, data = tmp_path / "moved_run", tmp_path / "copied_data"
    shutil.copytree(trained_run, moved)
    for folder in ("train1", "train2", "val1", "val2"):
        shutil.copytree(folder, data / folder)
    # the same folders spelled otherwise (were refused as "started with --out runs/xgan"), then a moved copy
    for flags, step in ((["--out", "runs/xgan/"], 2), (["--out", os.path.abspath("runs/xgan"), "--data-dir", "./"], 3),
                        (["--out", str(moved), "--data-dir", str(data)], 2)):
        train_py.main(flags + ["--max-steps", str(step + 1)])
        assert f"resuming from the checkpoint of step {step} in " in capsys.readouterr().out
    assert json.load(open(moved / "config.json"))["out"] == str(moved)
    # other training faces under a folder of the same name: refused, nothing touched
    os.remove(data / "train1" / sorted(os.listdir(data / "train1"))[0])
    with pytest.raises(SystemExit, match=r"its training faces \(11 \+ 8, by name\) are not those the run .* "
                                         r"trained on \(12 \+ 8\)"):
        train_py.main(["--out", str(moved), "--data-dir", str(data)])


def test_max_steps_limits_one_start_not_the_run(trained_run):
    train_py.main(["--epochs", "2"])  # the run was started with --max-steps 2: it goes on to the end of epoch 2
    assert json.load(open(os.path.join(trained_run, "config.json")))["max_steps"] == 0
    assert tf.train.latest_checkpoint(os.path.join(trained_run, "checkpoints")).endswith("-6")


def test_the_default_recipe_is_saved_for_this_machine_and_quick_is_the_earlier_default(tmp_path, capsys):
    model_py.main(["--out", str(tmp_path / "default")] + TINY_MODEL_FLAGS)
    settings = json.load(open(tmp_path / "default" / "config.json"))
    bfloat16 = fast_mixed_precision()
    assert settings["mixed_precision"] is bfloat16                         # "auto" saved as what it is here
    assert settings["jit_compile"] is fast_xla()
    assert (settings["epochs"], settings["decay_epochs"]) == ((42, 14) if bfloat16 else (26, 9))
    assert (settings["real_crop"], settings["sharpen"], settings["smooth"], settings["out"]) == (
        0.75, 1.0, 20.0, "runs/xgan")
    model_py.main(["--preset", "quick", "--out", str(tmp_path / "quick")] + TINY_MODEL_FLAGS)
    quick = json.load(open(tmp_path / "quick" / "config.json"))
    # the default of the versions before the long recipe became the default: 3 epochs, uncut, unsharpened
    assert {k: quick[k] for k in ("epochs", "decay_epochs", "real_crop", "sharpen", "smooth", "quality_every",
                                  "mixed_precision", "out")} == dict(epochs=3, decay_epochs=0, real_crop=1.0,
                                                                     sharpen=0.0, smooth=0.0, quality_every=1,
                                                                     mixed_precision=False, out="runs/xgan")
    assert {k: v for k, v in quick.items() if k not in (*PRESETS["quick"], "mixed_precision")} == {
        k: v for k, v in settings.items() if k not in (*PRESETS["quick"], "mixed_precision", *FLOAT32)}


def test_fresh_deletes_only_a_marked_run_folder_and_never_the_project_or_the_models(trained_run, tmp_path):
    with pytest.raises(SystemExit, match="is the project's own folder"):
        train_py.main(["--out", ROOT, "--fresh"])
    with pytest.raises(SystemExit, match="holds the model folder models/"):
        train_py.main(["--out", ".", "--fresh"])
    assert os.path.isfile("models/xgan.keras")
    mine = tmp_path / "my_folder"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not a run folder made by train.py .* Nothing was deleted"):
        train_py.main(["--out", str(mine), "--fresh", "--max-steps", "1"])
    assert (mine / "notes.txt").read_text() == "mine"
    (pathlib.Path(trained_run) / "mine.txt").write_text("kept")     # a run folder's other files are kept too
    train_py.main(["--fresh", "--max-steps", "1", "--batch-size", "4", "--quality-every", "0"])
    assert (pathlib.Path(trained_run) / "mine.txt").read_text() == "kept"


def test_every_input_gets_its_own_output_and_no_input_is_overwritten(trained_run, tmp_path):
    for folder in ("a", "b"):
        write_images(str(tmp_path / folder), 1, 40, 40, seed=3, ext="png")
    write_images(str(tmp_path / "a"), 1, 40, 40, seed=4, ext="jpg")                  # a/000.png and a/000.jpg
    (tmp_path / "a" / "grid.png").write_bytes((tmp_path / "a" / "000.png").read_bytes())
    translate_py.main(["--input", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(tmp_path / "out")])
    assert sorted(os.listdir(tmp_path / "out")) == ["000_jpg.png", "000_png.png", "000_png_2.png", "grid.png",
                                                    "grid_png.png"]
    before = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    with pytest.raises(SystemExit, match="holds the input .* Nothing was written; choose another --output"):
        translate_py.main(["--input", str(tmp_path / "a"), "--output", str(tmp_path / "a")])
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == before


def test_compare_faces_puts_each_models_translations_under_their_photos(trained_run, tmp_path, capsys):
    compare_faces = importlib.import_module("docs.compare_faces")
    photos = [os.path.join("test1", name) for name in sorted(os.listdir("test1"))]
    models = os.path.join(trained_run, "models")
    specs = [compare_faces.model_spec(f"a={models}"), compare_faces.model_spec(f"b={models},sharpen=0,smooth=20")]
    assert specs[1][2] == {"sharpen": 0.0, "smooth": 20.0}
    labels, blocks = compare_faces.face_blocks(specs, photos, width=2)
    model = load(models, how_to_make="")
    x = np.stack([model_inputs(p, "", "real", model.config)[0][1] for p in photos])
    y = [load(models, "", settings=settings).translator("real", "manga").predict(x, verbose=0)
         for _, _, settings in specs]
    assert labels == ["photo", "a", "b"] and [len(block[0]) for block in blocks] == [2, 1]
    for start, block in zip((0, 2), blocks):
        np.testing.assert_allclose(block[0], x[start:start + 2])
        np.testing.assert_allclose(block[1], y[0][start:start + 2], atol=1e-5)
        np.testing.assert_allclose(block[2], y[1][start:start + 2], atol=1e-5)
    with pytest.raises(SystemExit):
        compare_faces.main([f"a={models},blur=1", "--photos", *photos])
    assert "blur: a model row may set sharpen and smooth only" in capsys.readouterr().err
    compare_faces.main([f"a={models}", "--photos", *photos, "--output", str(tmp_path / "faces.png")])
    assert Image.open(tmp_path / "faces.png").size[0] > 0
    with pytest.raises(SystemExit):
        compare_faces.main([f"a={models}", "--photos", "test1/missing.jpg"])
    assert "no photo test1/missing.jpg" in capsys.readouterr().err
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(SystemExit, match="broken.jpg: .* Pass readable images with --photos"):
        compare_faces.main([f"a={models}", "--photos", str(tmp_path / "broken.jpg")])


def test_bench_with_a_mistyped_data_dir_says_so_in_one_line(tmp_path):
    with pytest.raises(SystemExit, match="typo/ does not exist"):
        bench_py.main(["--data-dir", str(tmp_path / "typo"), "--smoke"])


@pytest.mark.parametrize("change, message", [
    ({"sharpen": float("inf")}, "sharpen = inf is not allowed: use a finite number"),
    ({"batch_size": 0}, "batch_size = 0 is not allowed: use a positive whole number"),
    ({"norm": "layer"}, "norm = 'layer' is not allowed: use batch or instance or none"),
    ({"epochs": "3"}, "epochs = '3' is not allowed: use a value of the kind int"),
])
def test_a_hand_edited_config_json_stops_with_one_line_naming_file_and_field(tiny_data, tmp_path, monkeypatch,
                                                                            change, message):
    monkeypatch.chdir(tiny_data)
    model_py.main(["--out", "models"] + TINY_MODEL_FLAGS)
    path = os.path.join("models", "config.json")
    json.dump(dict(json.load(open(path)), **change), open(path, "w"))
    with pytest.raises(SystemExit, match=f"{path}: {message}"):
        train_py.main(["--max-steps", "1"])
    with pytest.raises(SystemExit, match=f"{path}: {message}"):
        translate_py.main(["--models", "models"])


def test_unknown_settings_in_config_json_are_named_not_dropped_silently(tiny_data, tmp_path, capsys):
    model_py.main(["--out", str(tmp_path / "models")] + TINY_MODEL_FLAGS)
    path = tmp_path / "models" / "config.json"
    json.dump(dict(json.load(open(path)), w_future=1.0), open(path, "w"))
    assert Config.load(str(path)).image_size == 32  # still loads
    assert f"{path}: unknown settings ignored: w_future" in capsys.readouterr().err


def test_a_preset_with_a_value_not_allowed_is_refused(monkeypatch, tmp_path, capsys):
    for name in PRESETS:
        assert preset(name).problems() == []
    monkeypatch.setitem(PRESETS, "quick", dict(PRESETS["quick"], epochs=0))
    with pytest.raises(SystemExit) as exit_info:
        model_py.main(["--preset", "quick", "--out", str(tmp_path / "m")])
    assert exit_info.value.code == 2
    assert "preset quick: epochs = 0 is not allowed: use a positive whole number" in capsys.readouterr().err
