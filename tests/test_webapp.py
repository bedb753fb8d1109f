"""The web page: the translation behind it, the server over real HTTP, and a real headless browser."""
import dataclasses
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import requests

from conftest import TINY_MODEL
from utils.config import Config
from utils.faces import FaceCropper
from utils.networks import build
from utils.webapp import UploadError, translate_upload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FACE = os.path.join(ROOT, "test1", "003001.jpg")
MANGA = os.path.join(ROOT, "test2", sorted(os.listdir(os.path.join(ROOT, "test2")))[0])
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _noise_png(path):
    from PIL import Image
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def faces():
    return FaceCropper()


def test_translate_upload_gives_one_pair_per_face(tiny_config, faces):
    model = build(tiny_config)
    pairs = translate_upload(model, open(FACE, "rb").read(), "real2manga", faces)
    assert len(pairs) == 1
    face, manga = pairs[0]
    assert face.shape == manga.shape == (32, 32, 3) and manga.dtype == np.uint8
    # manga -> photo, whole picture (no face detection)
    assert len(translate_upload(model, open(MANGA, "rb").read(), "manga2real")) == 1


def test_bad_uploads_give_messages(tiny_config, faces, tmp_path):
    model = build(tiny_config)
    with pytest.raises(UploadError, match="empty"):
        translate_upload(model, b"", "real2manga", faces)
    with pytest.raises(UploadError, match="cannot be read as an image"):
        translate_upload(model, b"%PDF-1.4 not a picture", "real2manga", faces)
    with pytest.raises(UploadError, match="No face found"):
        translate_upload(model, open(_noise_png(tmp_path / "noise.png"), "rb").read(), "real2manga", faces)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """app.py on a free port, serving a tiny untrained model (the page does not care how well it translates)."""
    models = str(tmp_path_factory.mktemp("models"))
    build(dataclasses.replace(Config(), **TINY_MODEL)).save(models)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "app.py"), "--models", models, "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            assert process.poll() is None and time.time() < deadline, process.stdout.read() if process.poll() else ""
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=120)


def test_server_translates_an_upload_and_survives_bad_ones(server, tmp_path):
    answer = requests.post(f"{server}/translate", files={"photo": open(FACE, "rb")},
                           data={"direction": "real2manga", "faces": "on"}, timeout=60)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert len(results) == 1 and results[0]["output"].startswith("data:image/png;base64,")

    bad = requests.post(f"{server}/translate", files={"photo": ("notes.txt", b"hello")}, data={"faces": "on"})
    assert bad.status_code == 400 and "cannot be read as an image" in bad.json()["error"]
    none = requests.post(f"{server}/translate", files={"photo": open(_noise_png(tmp_path / "n.png"), "rb")},
                         data={"faces": "on"})
    assert none.status_code == 400 and "No face found" in none.json()["error"]
    huge = requests.post(f"{server}/translate", files={"photo": ("big.jpg", b"\0" * (41 * 2 ** 20))})
    assert huge.status_code == 413 and "larger than 40 MB" in huge.json()["error"]
    assert requests.get(server).status_code == 200          # still serving
    assert "Translating with your model in " in requests.get(server).text   # the page names the model it serves


def _png_claiming(width, height):
    """A few hundred bytes of PNG whose header says width x height: it would decode to that many pixels."""
    import struct
    import zlib
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "png")
    png = bytearray(buffer.getvalue())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(png[24:29])
    png[12:29] = header
    png[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(png)


def test_a_small_file_that_decodes_huge_is_refused_before_decoding(server):
    answer = requests.post(f"{server}/translate", files={"photo": ("bomb.png", _png_claiming(12000, 10000))},
                           data={"faces": "on"}, timeout=30)
    assert answer.status_code == 400 and "too large" in answer.json()["error"]
    assert "12000x10000 pixels (120 megapixels), more than the 60 megapixels" in answer.json()["error"]
    assert requests.get(server).status_code == 200


class _HeldTranslator:
    """Stands in for the model: each translation waits until the test releases it, so requests overlap however
    slowly a loaded machine sends them."""

    def __init__(self, model):
        self.model, self.config = model, model.config
        self.release = threading.Event()

    def translator(self, source, target):
        def held(x, training=False):
            assert self.release.wait(timeout=120), "never released"
            return self.model.translator(source, target)(x, training=training)
        return held


def test_concurrent_requests_beyond_the_queue_get_503_and_the_rest_are_served(tiny_config):
    from concurrent.futures import ThreadPoolExecutor
    from werkzeug.serving import make_server
    from utils.webapp import MAX_WAITING, create_app
    translator = _HeldTranslator(build(tiny_config))
    app = create_app(translator, faces=None)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/translate"
    content = open(MANGA, "rb").read()
    def post():
        return requests.post(url, files={"photo": ("m.jpg", content)}, data={"direction": "manga2real"}, timeout=180)

    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(post) for _ in range(8)]
            try:
                # While the first translation is held, all but 1 + MAX_WAITING requests are turned away.
                deadline = time.time() + 60
                while sum(f.done() for f in futures) < 7 - MAX_WAITING and time.time() < deadline:
                    time.sleep(0.05)
                turned_away = [f.result() for f in futures if f.done()]
            finally:
                translator.release.set()  # before the pool waits for the held requests, whatever happened
            answers = [f.result() for f in futures]
    finally:
        httpd.shutdown()
    assert len(turned_away) == 7 - MAX_WAITING and all(a.status_code == 503 for a in turned_away)
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * (1 + MAX_WAITING) + [503] * (7 - MAX_WAITING)
    assert all("busy" in a.json()["error"] for a in answers if a.status_code == 503)


def test_headless_browser_uploads_a_face_and_sees_its_translation(server, tmp_path):
    browser_path = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if browser_path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no browser installed under CI (looked for {', '.join(BROWSERS)}): .ci/run must install "
                        f"chromium")
        pytest.skip(f"no browser installed (looked for {', '.join(BROWSERS)}); .ci/run installs chromium")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server)
        page.set_input_files("#photo", FACE)
        translation = page.wait_for_selector("img.translation", timeout=60000)
        page.wait_for_function("() => document.querySelector('img.translation').naturalWidth > 0")
        assert page.evaluate("() => document.querySelector('img.translation').naturalWidth") == 32
        assert "1 face(s)" in page.inner_text("#status") and translation.is_visible()

        page.set_input_files("#photo", _noise_png(tmp_path / "noise.png"))
        page.wait_for_function("() => document.querySelector('#error').textContent.includes('No face found')")
        assert page.query_selector("img.translation") is None
        browser.close()


@pytest.fixture
def client(tiny_config):
    from utils.webapp import create_app
    return create_app(build(tiny_config), faces=None).test_client()


def _post(client, content, **headers):
    return client.post("/translate", data={"photo": (io.BytesIO(content), "m.png"), "direction": "manga2real"},
                       headers=headers)


@pytest.mark.parametrize("headers, status", [
    ({}, 200),                                                       # not a browser: curl, requests
    ({"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, 200),  # the page itself
    ({"Origin": "http://localhost"}, 200),                           # a browser without Sec-Fetch-*
    ({"Sec-Fetch-Site": "cross-site", "Origin": "https://any.example"}, 403),
    ({"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"}, 403),
    ({"Origin": "https://any.example"}, 403),
    ({"Origin": "null"}, 403),                                       # a sandboxed page or a data: URL
])
def test_requests_from_other_web_sites_are_refused(client, headers, status):
    answer = _post(client, open(MANGA, "rb").read(), **headers)
    assert answer.status_code == status
    if status == 403:
        assert "other web sites" in answer.get_json()["error"]


def test_large_uploads_stay_in_memory(client, monkeypatch, tmp_path):
    import werkzeug.formparser

    def to_disk(*args, **kwargs):
        raise AssertionError("the upload was spooled to a temporary file")
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", to_disk)
    monkeypatch.setattr(werkzeug.formparser, "TemporaryFile", to_disk, raising=False)
    from PIL import Image
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (600, 600, 3), dtype=np.uint8)).save(path)
    content = open(path, "rb").read()
    assert len(content) > 1024 * 500  # above Werkzeug's limit for keeping a file in memory
    assert _post(client, content).status_code == 200


def test_each_translator_is_built_once_not_per_request(tiny_config):
    from utils.webapp import create_app
    model, built = build(tiny_config), []
    translator = model.translator
    model.translator = lambda *pair: built.append(pair) or translator(*pair)
    client = create_app(model, faces=None).test_client()
    for _ in range(3):
        assert _post(client, open(MANGA, "rb").read()).status_code == 200
    assert sorted(built) == [("manga", "real"), ("real", "manga")]
