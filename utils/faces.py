"""Faces found in an arbitrary photo, each cut out and aligned to the framing of the training faces.

The detector is MTCNN (the `mtcnn` package, MIT): TensorFlow-native, and its weights ship inside the
pip package, so it works offline. Each face's five landmarks (eyes, nose, mouth corners) are mapped by
a similarity transform (rotation, uniform scale, shift) onto where they sit, on average, in the
bundled CelebA faces, so a face anywhere in a photo of any size comes out framed like train1/.
"""
import numpy as np
from PIL import Image

from utils.reading import UnreadableImage

# The bundled CelebA crops (89x109), and the mean landmark positions MTCNN finds in them (197 of the
# first 200 of train1/ with exactly one face; standard deviation 1-3 pixels).
FRAME = (89, 109)
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
TEMPLATE = np.array([(34.17, 55.39), (53.93, 55.36), (43.63, 67.58), (35.20, 76.27), (52.98, 76.21)])
MIN_CONFIDENCE = 0.9
DETECT_MAX_SIDE = 1600  # detection runs on a copy no larger than this: a 50-megapixel photo takes seconds, not minutes


class FaceCropper:
    def __init__(self):
        from mtcnn import MTCNN  # imported here: it builds its networks on import, and most runs need none
        self.detector = MTCNN(device="CPU:0")

    def crop(self, rgb):
        """Every face of uint8 HxWx3 `rgb`, left to right, as an aligned FRAME-sized uint8 image."""
        scale = min(1.0, DETECT_MAX_SIDE / max(rgb.shape[:2]))
        small = rgb
        if scale < 1:
            small = np.asarray(Image.fromarray(rgb).resize(
                (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), Image.BILINEAR))
        faces = [f for f in self.detector.detect_faces(small) if f["confidence"] >= MIN_CONFIDENCE]
        faces.sort(key=lambda f: f["box"][0])
        # Landmarks back in the full photo's pixels: the crop is cut from the full resolution.
        return [align(rgb, np.array([f["keypoints"][name] for name in LANDMARKS], np.float64) / scale)
                for f in faces]


def crops(rgb, faces=None):
    """[rgb] without a FaceCropper; with one, every face it finds (UnreadableImage if there is none)."""
    if faces is None:
        return [rgb]
    found = faces.crop(rgb)
    if not found:
        raise UnreadableImage("no face found")
    return found


def similarity(source, target):
    """(scale-rotation a, shift b) as complex numbers, least squares: target ~ a * source + b."""
    s = source[:, 0] + 1j * source[:, 1]
    t = target[:, 0] + 1j * target[:, 1]
    s_centred, t_centred = s - s.mean(), t - t.mean()
    a = np.vdot(s_centred, t_centred) / np.vdot(s_centred, s_centred)
    return a, t.mean() - a * s.mean()


def align(rgb, landmarks):
    """Warp `rgb` so that `landmarks` (5x2, x y) land on TEMPLATE in a FRAME-sized image."""
    image = Image.fromarray(rgb)
    a, _ = similarity(landmarks, TEMPLATE)
    if abs(a) < 0.5:  # a face much larger than the frame: shrink first, so the warp does not alias
        factor = 2 * abs(a)
        image = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                             Image.LANCZOS)
        landmarks = landmarks * (image.width / rgb.shape[1], image.height / rgb.shape[0])
    a, b = similarity(landmarks, TEMPLATE)
    # PIL maps each output pixel back into the input: the inverse transform, x_in = (x_out - b) / a.
    inverse_a, inverse_b = 1 / a, -b / a
    coefficients = (inverse_a.real, -inverse_a.imag, inverse_b.real, inverse_a.imag, inverse_a.real, inverse_b.imag)
    warped = image.transform(FRAME, Image.AFFINE, coefficients, resample=Image.BICUBIC, fillcolor=(255, 255, 255))
    return np.asarray(warped)
