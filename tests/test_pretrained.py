"""The shipped model (pretrained/): it draws manga faces that keep each photo, it is what translate.py and
app.py use until a run has trained one, and it is the default recipe's (a recipe change without retraining
the shipped model fails here)."""
import dataclasses
import os

import numpy as np
import pytest

import translate as translate_py
from utils import data, metrics
from utils.config import Config, config_path
from utils.networks import PRETRAINED, load_trained

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Settings of how a run is executed, logged and measured, and its seed (a draw of the recipe: the seed that
# ships is chosen on the validation faces, docs/quality.md); every other one is the recipe.
HOW_IT_RUNS = ("seed", "data_dir", "out", "max_steps", "log_every", "checkpoint_every", "keep_checkpoints",
               "sample_count", "quality_every", "quality_features", "strategy", "jit_compile", "mixed_precision")


def _photos(count):
    folder = os.path.join(ROOT, data.TEST_FOLDERS["real"])
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))[:count]]


def test_the_shipped_model_draws_manga_faces_that_keep_each_photo():
    model, _ = load_trained("pretrained")
    photos = data.load_images(_photos(16), "real", model.config)
    drawn = metrics.outputs(model.translator("real", "manga"), photos)
    train = {d: data.load_images(data.list_images(os.path.join(ROOT, data.TRAIN_FOLDERS[d]))[::5], d, model.config)
             for d in data.DOMAINS}                                      # 600 + 598 training faces
    classifier = metrics.train_domain_classifier(train["real"], train["manga"])
    assert metrics.share_called_manga(classifier, drawn) >= 14 / 16
    assert metrics.input_retrieval(photos, drawn) == 1.0                 # each matched back to its own photo


def test_translate_without_a_trained_run_uses_the_shipped_model_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                                          # no runs/xgan/models/ here
    translate_py.main(["--input", *_photos(2), "--output", "out"])
    said = capsys.readouterr().out
    assert "no trained models in runs/xgan/models/ yet: using the shipped model in pretrained/" in said
    assert "2 images translated into out/ by the shipped model (pretrained/)" in said
    assert sorted(os.listdir("out")) == ["003001.png", "003002.png", "grid.png"]
    with pytest.raises(SystemExit, match=r"No saved model in elsewhere/ .* Run `python train.py` first"):
        translate_py.main(["--models", "elsewhere", "--input", *_photos(1)])


def test_the_shipped_model_is_the_default_recipe():
    shipped, recipe = Config.load(config_path(PRETRAINED)), Config()
    changed = [f.name for f in dataclasses.fields(Config)
               if f.name not in HOW_IT_RUNS and getattr(shipped, f.name) != getattr(recipe, f.name)]
    assert changed == [], f"the recipe changed ({changed}): retrain pretrained/ (pretrained/README.md says how)"
    assert os.path.getsize(os.path.join(PRETRAINED, "xgan.keras")) < 20 * 2 ** 20
