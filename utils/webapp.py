"""The web page of app.py: drop a photo, see each face found and its manga translation, download it.

Uploads are kept in memory (up to MAX_UPLOAD_MB; Werkzeug's own parser would spool those over 500 KB to a
temporary file) and never written anywhere. Only requests from the page itself are served: a form posted by
another web site the user visits is refused.
"""
import io
import threading
from urllib.parse import urlsplit

import flask
import numpy as np
from werkzeug.exceptions import HTTPException

from utils import images, reading
from utils.networks import DIRECTIONS
from utils.translation import image_inputs

MAX_UPLOAD_MB = 40
MAX_MEGAPIXELS = 60  # decoded: 180 MB of pixels; a 50-megapixel phone photo still goes through
MAX_WAITING = 2      # requests queued behind the one being translated; more get 503 at once


class UploadError(ValueError):
    """An upload the page cannot translate; the message is shown to the user."""


def translate_upload(model, content, direction="real2manga", faces=None):
    """[(model input, translation)] as uint8 images for an uploaded file; with `faces`, one pair per face."""
    if not content:
        raise UploadError("The upload is empty: choose a photo first.")
    if direction not in DIRECTIONS:
        raise UploadError(f"Unknown direction {direction!r}: use one of {', '.join(DIRECTIONS)}.")
    source, target = DIRECTIONS[direction]
    try:
        rgb = reading.rgb_from_bytes(content, max_pixels=MAX_MEGAPIXELS * 10 ** 6)
    except reading.TooLarge as error:
        raise UploadError(f"This picture is too large to translate: {error}. Scale it down first.") from None
    except reading.UnreadableImage as error:
        raise UploadError(f"This file cannot be read as an image ({error}). Upload a JPEG, PNG, BMP, GIF or WebP "
                          f"picture.") from None
    try:
        x = np.stack(image_inputs(rgb, source, model.config, faces))
    except reading.UnreadableImage:
        raise UploadError("No face found in this picture. Try one where the face is clearly visible and not too "
                          "small, or untick \"find faces\" to translate the centred square of the whole picture.")
    y = model.translator(source, target)(x, training=False).numpy()
    return [(images.to_uint8(a), images.to_uint8(b)) for a, b in zip(x, y)]


class InMemoryRequest(flask.Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()  # MAX_CONTENT_LENGTH bounds it


class BuiltOnce:
    """`model` with each direction's translator built once, so that a request only runs it."""

    def __init__(self, model):
        self.config = model.config
        self.translators = {pair: model.translator(*pair) for pair in DIRECTIONS.values()}

    def translator(self, source, target):
        return self.translators[(source, target)]


def cross_site(request):
    """Whether the browser says `request` comes from another site than this page (a form posted elsewhere
    needs no CORS preflight, so binding to 127.0.0.1 does not stop it). Clients that are not browsers send
    neither header and are served."""
    fetched_from = request.headers.get("Sec-Fetch-Site")
    if fetched_from:
        return fetched_from not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc != request.host


def create_app(model, faces, description="an XGAN"):
    """The Flask app; `faces` (a FaceCropper) is used when the user ticks "find faces"; `description` names the
    model on the page (networks.describe)."""
    app = flask.Flask(__name__)
    app.request_class = InMemoryRequest
    model = BuiltOnce(model)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_MB * 2 ** 20
    one_at_a_time = threading.Lock()  # the detector and the model each serve one request at a time
    # At most 1 + MAX_WAITING requests hold an upload in memory; the rest are turned away before reading it.
    slots = threading.BoundedSemaphore(1 + MAX_WAITING)

    @app.get("/")
    def page():
        return flask.render_template("index.html", max_mb=MAX_UPLOAD_MB, model=description)

    @app.post("/translate")
    def translate():
        if cross_site(flask.request):
            return flask.jsonify(error="Requests from other web sites are refused: use the page itself."), 403
        if not slots.acquire(blocking=False):
            return flask.jsonify(error="The server is busy translating other pictures. Try again in a moment."), 503
        try:
            upload = flask.request.files.get("photo")
            content = upload.read() if upload else b""
            form = flask.request.form
            with one_at_a_time:
                pairs = translate_upload(model, content, form.get("direction", "real2manga"),
                                         faces if form.get("faces") == "on" else None)
        finally:
            slots.release()
        return flask.jsonify(results=[{"input": images.png_data_url(a), "output": images.png_data_url(b)}
                                      for a, b in pairs])

    @app.errorhandler(UploadError)
    def bad_upload(error):
        return flask.jsonify(error=str(error)), 400

    @app.errorhandler(413)
    def too_large(error):
        return flask.jsonify(error=f"The file is larger than {MAX_UPLOAD_MB} MB. Upload a smaller picture."), 413

    @app.errorhandler(Exception)
    def unexpected(error):  # the page shows a message, never a stack trace; the server log keeps the details
        if isinstance(error, HTTPException):  # 404 and the like keep their own pages
            return error
        app.logger.exception("translation failed")
        return flask.jsonify(error=f"Something went wrong with this picture ({type(error).__name__}). "
                                   f"Try another one."), 500

    return app
