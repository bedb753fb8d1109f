"""evaluate.py's work: every measure of a trained XGAN on held-out faces, as a table, JSON and a web page."""
import datetime
import json
import os

import jinja2
import numpy as np

from utils import images, metrics
from utils.networks import DIRECTIONS, DOMAINS

# (key, label, what better is); each measure is given per direction
ROWS = (
    ("kid_x100", "KID x100 (mean ± std over subsets)", "lower; 0 = indistinguishable from real faces of the target domain"),
    ("copy_kid_x100", "KID x100 of the input copied unchanged", "reference: a translation should score far below"),
    ("floor_kid_x100", "KID x100 of other real faces of the target domain", "reference: the best reachable at this set size"),
    ("rec_kid_x100", "KID x100 of the target's own reconstructions of those faces",
     "reference: what the target decoder makes of real faces of its own domain; far above 0, the decoder limits KID"),
    ("fid", "FID", "lower (biased upwards at small set sizes: compare only with the references below)"),
    ("copy_fid", "FID of the input copied unchanged", "reference"),
    ("floor_fid", "FID of other real faces of the target domain", "reference"),
    ("rec_fid", "FID of the target's own reconstructions of those faces", "reference"),
    ("domain_score", "domain score: share called the target domain", "higher; by a real-vs-manga CNN trained here"),
    ("input_retrieval", "input retrieval: share whose nearest input by colour layout is their own",
     "higher; chance = 1 / number of faces"),
    ("semantic_consistency", "semantic consistency: embedding distance kept / between faces", "lower; 1 = no better than another face"),
    ("diversity", "diversity: pairwise distance of translations / of real target faces", "about 1; small = mode collapse"),
    ("speckle", "speckle: checkerboard share of pixel changes, translations / real target faces",
     "about 1 or below; above = speckled"),
    ("blockiness", "blockiness: steps across 8-pixel cell borders / inside cells, translations / real target faces",
     "about 1; above = a grid of blocks"),
    ("mottle", "mottle: fine detail of the skin below the eyes (median), translations / real target faces",
     "about 1; above = skin broken into patches"),
    ("skin_dark", "skin-tone error of the darkest fifth of the inputs (CIELAB, the mean shift taken off)",
     "lower; at most 1.5 x the lightest fifth's"),
    ("skin_light", "skin-tone error of the lightest fifth of the inputs", "lower"),
    ("reconstruction_mse", "reconstruction MSE of the source's autoencoder (pixels on [0, 1])", "lower"),
    ("reconstruction_psnr_db", "reconstruction PSNR of the source's autoencoder (dB)", "higher"),
)


def evaluate(model, test, train, extractor=None, seed=0, log=print):
    """All measures of `model` on `test` faces: {domain: [-1, 1] images}; `train` faces of both domains
    train the domain classifier and give the 'other real faces' reference. `extractor`: a
    metrics feature network, or None for no KID/FID.

    Returns ({direction: {measure: value}, ...}, {direction: (inputs, translations)}).
    """
    results, grids = {}, {}
    log("training the real-vs-manga classifier for the domain score")
    classifier = metrics.train_domain_classifier(train["real"], train["manga"], seed=seed)
    called_manga = {d: metrics.share_called_manga(classifier, test[d]) for d in DOMAINS}
    results["domain_classifier_test_accuracy"] = (called_manga["manga"] + 1 - called_manga["real"]) / 2
    features = {}
    if extractor is not None:
        log(f"{extractor.description}: features of {sum(len(x) for x in test.values())} test faces")
        features = {d: metrics.features_of(extractor, test[d]) for d in DOMAINS}
    rng = np.random.default_rng(seed)
    for direction, (source, target) in DIRECTIONS.items():
        x = test[source]
        embedding = metrics.outputs(model.encoder(source), x)
        translated = metrics.outputs(model.translator(source, target), x)  # as translate.py makes them
        reconstructed = metrics.outputs(model.decoder(source), embedding)
        embedding_again = metrics.outputs(model.encoder(target), translated)
        share = metrics.share_called_manga(classifier, translated)
        measures = {
            "domain_score": share if target == "manga" else 1 - share,
            "input_retrieval": metrics.input_retrieval(x, translated),
            "semantic_consistency": metrics.semantic_consistency(embedding, embedding_again),
            "diversity": metrics.diversity(translated, test[target]),
            "speckle": metrics.speckle(translated, test[target]),
            "blockiness": metrics.blockiness(translated, test[target]),
            "mottle": metrics.mottle(translated, test[target]),
        }
        measures["skin_dark"], measures["skin_light"] = metrics.skin_tone_errors(x, translated)
        measures["reconstruction_mse"], measures["reconstruction_psnr_db"] = metrics.reconstruction(x, reconstructed)
        if extractor is not None:
            log(f"{direction}: features of the translations, of {len(test[target])} other {target} faces and of "
                f"their reconstructions")
            others = train[target][rng.choice(len(train[target]), min(len(train[target]), len(test[target])),
                                              replace=False)]
            rebuilt = metrics.outputs(model.autoencoder(target), others)
            for name, faces in (("", metrics.features_of(extractor, translated)), ("copy_", features[source]),
                                ("floor_", metrics.features_of(extractor, others)),
                                ("rec_", metrics.features_of(extractor, rebuilt))):
                mean, std = metrics.kid(faces, features[target], seed=seed)
                measures[f"{name}kid_x100"] = [100 * mean, 100 * std]
                measures[f"{name}fid"] = metrics.fid(faces, features[target])
        results[direction], grids[direction] = measures, (x, translated)
    return results, grids


def _shown(value):
    if value is None:
        return "n/a"
    if isinstance(value, list):
        return f"{value[0]:.2f} ± {value[1]:.2f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def table_rows(results):
    """[(label, real2manga, manga2real, better)] as text."""
    return [(label, *(_shown(results[d].get(key)) for d in DIRECTIONS), better) for key, label, better in ROWS]


def markdown_table(results):
    lines = ["| measure | real -> manga | manga -> real | better |", "| --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    return "\n".join(lines)


def write_report(results, grids, info, output, grid_width=10):
    """OUTPUT/metrics.json and OUTPUT/index.html (one self-contained page: the measures and every test face
    above its translation). Returns the page's path."""
    json_path = os.path.join(output, "metrics.json")
    images.write_bytes(json.dumps({**info, **results}, indent=2).encode(), json_path)
    pictures = {direction: images.png_data_url(images.pairs_grid(x, y, grid_width))
                for direction, (x, y) in grids.items()}
    template = jinja2.Environment(loader=jinja2.PackageLoader("utils", "templates"), autoescape=True)
    page = template.get_template("results.html").render(
        info=info, rows=table_rows(results), accuracy=results["domain_classifier_test_accuracy"],
        pictures=pictures, directions={d: f"{s} -> {t}" for d, (s, t) in DIRECTIONS.items()},
        when=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    page_path = os.path.join(output, "index.html")
    images.write_bytes(page.encode(), page_path)
    return page_path


class EpochQuality:
    """train.py's view of quality as it trains: at each epoch end, for both directions, KID x100 between the
    translations of the validation faces and the other domain's validation faces, input retrieval, domain
    score, blockiness, mottle and the skin-tone errors of the darkest and lightest fifth. Features: the FID
    InceptionV3 where requirements-metrics.txt is installed, else the pooled features of the real-vs-manga
    classifier that gives the domain score (trained here once, about 15 s).
    """

    def __init__(self, faces, train, choice="auto", seed=0, log=print):
        """`faces` (the validation faces), `train`: {domain: [-1, 1] images}."""
        self.faces, self.seed = faces, seed
        self.classifier = metrics.train_domain_classifier(train["real"], train["manga"], seed=seed)
        self.extractor = None
        if choice in ("auto", "fid-inception"):
            self.extractor, unavailable = metrics.feature_extractor("fid-inception")
            if unavailable and choice == "fid-inception":
                raise metrics.FeaturesUnavailable(unavailable[0])
        if self.extractor is None:
            self.extractor = metrics.classifier_features(self.classifier)
        log(f"quality of the {sum(len(x) for x in faces.values())} validation faces each epoch: KID on "
            f"{self.extractor.description}")
        self.features = {d: metrics.features_of(self.extractor, x) for d, x in faces.items()}

    def measure(self, model):
        """{measure_direction: value} of `model` (in its current weights) on the validation faces."""
        row = {}
        for direction, (source, target) in DIRECTIONS.items():
            translated = metrics.outputs(model.translator(source, target), self.faces[source])
            kid, _ = metrics.kid(metrics.features_of(self.extractor, translated), self.features[target],
                                 seed=self.seed)
            share = metrics.share_called_manga(self.classifier, translated)
            row[f"kid_x100_{direction}"] = 100 * kid
            row[f"retrieval_{direction}"] = metrics.input_retrieval(self.faces[source], translated)
            row[f"domain_score_{direction}"] = share if target == "manga" else 1 - share
            row[f"blockiness_{direction}"] = metrics.blockiness(translated, self.faces[target])
            row[f"mottle_{direction}"] = metrics.mottle(translated, self.faces[target])
            row[f"skin_dark_{direction}"], row[f"skin_light_{direction}"] = metrics.skin_tone_errors(
                self.faces[source], translated)
        return row


QUALITY_NAMES = tuple(f"{measure}_{direction}" for measure in ("kid_x100", "retrieval", "domain_score", "blockiness",
                                                               "mottle", "skin_dark", "skin_light")
                      for direction in DIRECTIONS)
