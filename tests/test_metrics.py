"""KID, FID and the XGAN's own measures, on features and images small enough for a test."""
import json
import os

import keras
import numpy as np
import pytest
import scipy.linalg

from utils import evaluation, metrics
from utils.config import Config
from utils.networks import DIRECTIONS, build, embedding_shape


@pytest.fixture
def gaussian_sets():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(600, 16))
    return a, rng.normal(size=(600, 16)), rng.normal(loc=3.0, scale=2.0, size=(600, 16))


def test_kid_is_about_zero_for_the_same_distribution_and_large_for_another(gaussian_sets):
    a, same, other = gaussian_sets
    far, std = metrics.kid(a, other)
    assert far > 100 and std < far / 10
    # not exactly 0 against itself: subsets drawn from one set share points, whose self-similarity counts
    assert abs(metrics.kid(a, a)[0]) < 1e-4 * far
    assert abs(metrics.kid(a, same)[0]) < 1e-4 * far


def test_kid_is_the_unbiased_estimate_computed_by_hand():
    # Two sets of 3 points in 2 dimensions: MMD^2_u = mean over i != j of k(a_i, a_j) + the same for b
    # - 2 mean over all i, j of k(a_i, b_j), with k(x, y) = (x.y / 2 + 1)^3.
    a = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    b = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 2.0]])

    def k(x, y):
        return (x @ y / 2 + 1) ** 3

    within = sum(k(s[i], s[j]) for s in (a, b) for i in range(3) for j in range(3) if i != j) / 6
    between = sum(k(x, y) for x in a for y in b) / 9
    by_hand = within - 2 * between
    biased = (sum(k(x, y) for x in a for y in a) + sum(k(x, y) for x in b for y in b)) / 9 - 2 * between
    assert abs(by_hand - biased) > 1.0                                   # the check can tell the two apart
    assert metrics.mmd2_unbiased(a, b) == pytest.approx(by_hand)


def test_input_retrieval_is_one_for_the_identity_and_chance_for_a_shuffled_pairing():
    rng = np.random.default_rng(5)
    faces = rng.uniform(-1, 1, (100, 16, 16, 3)).astype(np.float32)
    assert metrics.input_retrieval(faces, faces) == 1.0
    # the same faces drawn paler and with more contrast (as manga are) still find their inputs
    assert metrics.input_retrieval(faces, np.clip(0.6 * faces + 0.3, -1, 1)) == 1.0
    shuffled = [metrics.input_retrieval(faces, faces[rng.permutation(100)]) for _ in range(20)]
    assert np.mean(shuffled) < 0.05                                     # chance: 1 in 100
    assert metrics.input_retrieval(faces, np.repeat(faces[:1], 100, axis=0)) == 0.01   # collapse: one output for all


def test_fid_is_about_zero_for_the_same_set_and_large_for_another(gaussian_sets):
    a, same, other = gaussian_sets
    assert abs(metrics.fid(a, a)) < 1e-6
    assert metrics.fid(a, same) < 1.0
    assert metrics.fid(a, other) > 100


# 64: fewer samples than dimensions, as 100 faces against 2048 (the n x n route); 16: more (the d x d route)
@pytest.mark.parametrize("dims", [16, 64])
def test_fid_equals_the_textbook_formula_with_a_matrix_square_root(dims):
    rng = np.random.default_rng(3)
    a, other = rng.normal(size=(30, dims)), rng.normal(size=(45, dims)) ** 2
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(other, rowvar=False)
    textbook = (((a.mean(0) - other.mean(0)) ** 2).sum()
                + np.trace(cov_a + cov_b - 2 * np.real(scipy.linalg.sqrtm(cov_a @ cov_b))))
    assert metrics.fid(a, other) == pytest.approx(textbook, rel=1e-6)


class _RecordingNumpy:
    """numpy, with the shapes of the distance and score matrices that metrics builds recorded."""

    def __init__(self):
        self.shapes = []

    def __getattr__(self, name):
        function = getattr(np, name)
        if name not in ("maximum", "argmax"):  # mean_pairwise_distance's and input_retrieval's matrices
            return function

        def recorded(x, *args, **kwargs):
            if np.ndim(x) == 2 and np.shape(x)[1] > 1:  # a matrix of rows against columns, not a norm's clamp
                self.shapes.append(np.shape(x))
            return function(x, *args, **kwargs)
        return recorded


def test_measures_in_blocks_equal_the_whole_matrices_and_build_no_larger_block(monkeypatch):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 12)), rng.normal(size=(70, 12))
    faces = rng.uniform(-1, 1, (40, 8, 8, 3))
    noisy = faces + 0.8 * rng.normal(size=faces.shape)
    whole = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).mean()
    assert metrics.mean_pairwise_distance(a, b) == pytest.approx(whole)
    expected = (metrics.mean_pairwise_distance(a), metrics.mean_pairwise_distance(a, b),
                metrics.input_retrieval(faces, noisy))
    recording = _RecordingNumpy()
    monkeypatch.setattr(metrics, "np", recording)
    for (measure, block, rows, columns), whole in zip((
            (lambda: metrics.mean_pairwise_distance(a, block=7), 7, 50, 50),
            (lambda: metrics.mean_pairwise_distance(a, b, block=9), 9, 50, 70),
            (lambda: metrics.input_retrieval(faces, noisy, block=6), 6, 40, 40)), expected):
        recording.shapes.clear()
        assert measure() == pytest.approx(whole)
        # blocks of at most `block` rows against every column, each row once
        assert [shape[1] for shape in recording.shapes] == [columns] * len(recording.shapes)
        assert max(shape[0] for shape in recording.shapes) == block
        assert sum(shape[0] for shape in recording.shapes) == rows


def test_speckle_finds_the_checkerboard_and_not_smooth_edges():
    yy, xx = np.mgrid[0:16, 0:16]
    edges = np.where((xx > 5) & (yy > 3), 0.8, -0.8)[None, ..., None].repeat(3, -1).repeat(4, 0)
    checker = edges + 0.1 * np.where((xx + yy) % 2, 1, -1)[None, ..., None]
    assert metrics.checkerboard(edges) < 0.3 < metrics.checkerboard(checker)
    assert metrics.speckle(checker, edges) > 2 and metrics.speckle(edges, edges) == 1


def test_blockiness_finds_a_grid_of_cells_and_not_a_smooth_face():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    smooth = np.stack([np.sin(3 * xx + 2 * yy + k) * 0.8 for k in range(3)], -1)[None].repeat(6, 0)
    smooth = smooth + 0.05 * rng.normal(size=smooth.shape)            # texture, as in a drawn face
    cells = np.repeat(np.repeat(rng.uniform(-0.3, 0.3, (6, 8, 8, 3)), 8, 1), 8, 2)   # an 8x8 map, upsampled
    blocky = smooth + cells
    assert 0.9 < metrics.cell_jumps(smooth) < 1.1
    assert metrics.cell_jumps(blocky) > 2
    assert metrics.blockiness(smooth, smooth) == 1 and metrics.blockiness(blocky, smooth) > 2
    assert metrics.cell_jumps(np.roll(blocky, 4, axis=2), cell=8) < 0.5 * metrics.cell_jumps(blocky)  # off the grid


def test_mottle_finds_patches_on_the_skin_off_any_grid_and_not_a_drawn_face():
    rng = np.random.default_rng(9)
    drawn = np.full((6, 64, 64, 3), 0.6) + 0.01 * rng.normal(size=(6, 64, 64, 3))   # flat skin, a faint grain
    drawn[:, 38:44, 31:33] = -0.6                                       # a drawn nose: a few outline pixels
    patches = np.repeat(np.repeat(rng.uniform(-0.3, 0.3, (6, 16, 16, 1)), 4, 1), 4, 2)
    patchy = np.roll(drawn + patches, 3, axis=(1, 2))                   # 4-pixel patches, off the 8-pixel grid
    assert metrics.mottle(drawn, drawn) == 1
    assert metrics.skin_texture(drawn) < 1                              # the nose's outline does not count
    assert metrics.mottle(patchy, drawn) > 5                            # measured: 11.7
    assert metrics.blockiness(patchy, drawn) < 1.2                      # what blockiness does not see


def test_skin_tone_errors_tell_dark_skin_drawn_grey_from_a_palette_shift():
    assert np.allclose(metrics.lab(np.ones((1, 1, 3))), [[100, 0, 0]], atol=0.1)
    assert np.allclose(metrics.lab(-np.ones((1, 1, 3))), [[0, 0, 0]], atol=0.1)
    rng = np.random.default_rng(8)
    skin = np.array([0.55, 0.1, -0.2])                                 # a skin colour on [-1, 1]
    lightness = np.linspace(-0.8, 0.4, 20)                             # dark to light skin
    photos = np.clip(skin + lightness[:, None, None, None] + 0.02 * rng.normal(size=(20, 64, 64, 3)), -1, 1)
    assert metrics.skin_tone_errors(photos, photos) == (0.0, 0.0)
    paler = np.clip(photos * 0.8 + 0.15, -1, 1)                        # every face drawn paler: kept in place
    dark, light = metrics.skin_tone_errors(photos, paler)
    assert dark < 8 and light < 8 and dark < 1.5 * light                # measured: 5.7 and 5.3
    greyed = paler.copy()
    greyed[:4] = greyed[:4].mean(-1, keepdims=True)                    # the darkest fifth drawn grey
    dark, light = metrics.skin_tone_errors(photos, greyed)
    assert dark > 20 and dark > 2 * light                               # measured: 26.2 and 9.0


def test_xgan_measures_on_known_cases():
    rng = np.random.default_rng(1)
    faces = rng.uniform(-1, 1, (20, 8, 8, 3))
    mse, psnr = metrics.reconstruction(faces, faces)
    assert mse == 0 and psnr > 100
    assert metrics.reconstruction(faces, -faces)[1] < 10
    embeddings = rng.normal(size=(20, 4))
    assert metrics.semantic_consistency(embeddings, embeddings) == 0
    assert metrics.semantic_consistency(embeddings, embeddings[::-1]) > 0.5
    assert metrics.diversity(np.repeat(faces[:1], 20, 0), faces) < 1e-6  # every translation the same: collapse
    assert 0.9 < metrics.diversity(faces[:10], faces[10:]) < 1.1


def test_measures_on_the_shapes_the_default_model_gives():
    rng = np.random.default_rng(6)
    config = Config()
    shape = embedding_shape(config)                                      # a map: (8, 8, 64), unit vectors
    assert len(shape) == 3

    def maps(n):
        x = rng.normal(size=(n, *shape))
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    a, unrelated = maps(60), maps(60)
    assert metrics.semantic_consistency(a, a) == 0
    assert 0.95 < metrics.semantic_consistency(a, unrelated) < 1.05     # no better than another face
    nudged = a + 0.01 * rng.normal(size=a.shape)                      # each position moved by about 0.08
    assert metrics.semantic_consistency(a, nudged / np.linalg.norm(nudged, axis=-1, keepdims=True)) < 0.1

    size = config.image_size
    faces = np.clip(rng.normal(size=(60, size, size, 3)).cumsum(1).cumsum(2) / 40, -1, 1)   # smooth, varied
    assert metrics.input_retrieval(faces, faces) == 1.0
    assert metrics.input_retrieval(faces, faces[rng.permutation(60)]) < 0.1
    assert 0.9 < metrics.diversity(faces[:30], faces[30:]) < 1.1
    assert metrics.diversity(np.repeat(faces[:1], 30, 0), faces[30:]) < 1e-6

    features = rng.normal(size=(120, 2048))
    assert abs(metrics.kid(features[:60], features[60:])[0]) < 0.01
    assert metrics.kid(features[:60], features[60:] + 1)[0] > 0.5

    classifier = metrics.domain_classifier(size)
    logit = classifier.layers[-1]
    for bias, called in ((10.0, 1.0), (-10.0, 0.0)):                      # a classifier that always says one domain
        logit.set_weights([np.zeros_like(logit.get_weights()[0]), np.array([bias])])
        assert metrics.share_called_manga(classifier, faces) == called


def test_no_features_without_the_optional_packages_says_why(monkeypatch):
    monkeypatch.setattr(metrics.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setitem(metrics.FEATURES, "keras-inception", lambda: (_ for _ in ()).throw(
        metrics.FeaturesUnavailable("no download here")))
    extractor, why = metrics.feature_extractor("auto")
    assert extractor is None and "requirements-metrics.txt" in why[0] and "no download here" in why[1]
    assert metrics.feature_extractor("none") == (None, [])


def test_evaluate_end_to_end_with_a_small_random_feature_network(tiny_config, tmp_path):
    model = build(tiny_config)
    rng = np.random.default_rng(2)
    faces = lambda n: rng.uniform(-1, 1, (n, 32, 32, 3)).astype(np.float32)  # noqa: E731
    test, train = {"real": faces(12), "manga": faces(12)}, {"real": faces(40), "manga": faces(40)}
    network = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, strides=2),
                                keras.layers.GlobalAveragePooling2D()])
    results, grids = evaluation.evaluate(model, test, train, metrics.NetworkFeatures(network), log=lambda line: None)
    for direction in DIRECTIONS:
        for key, _, _ in evaluation.ROWS:
            value = results[direction][key]
            assert np.all(np.isfinite(value)), (direction, key)
        assert grids[direction][1].shape == (12, 32, 32, 3)
    page = evaluation.write_report(results, grids, {"models": "m", "folders": {"real": "r", "manga": "g"},
                                                    "counts": {"real": 12, "manga": 12}, "features": "custom network",
                                                    "features_unavailable": []}, str(tmp_path / "results"))
    saved = json.load(open(tmp_path / "results" / "metrics.json"))
    assert saved["real2manga"]["kid_x100"] == results["real2manga"]["kid_x100"]
    text = open(page).read()
    assert text.count("data:image/png;base64,") == 2 and "KID x100" in text
    assert os.path.getsize(page) > 5000
