"""`rwgan serve`: the HTTP API directly, the CLI, and the page in a real headless chromium.

The browser test needs Debian's chromium and chromium-driver (.ci/run installs them) and
selenium (the dev extras); it is skipped, saying which is missing, without them.  Set
RWGAN_SERVE_SCREENSHOT=path to also save a screenshot of the page with a stroke and a
result (docs/serve.png was made that way).
"""
import base64
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rwgan.inference import load_inpainter
from rwgan.serve import make_server

SIZE = 32
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server(checkpoint):
    server = make_server(load_inpainter(checkpoint), "127.0.0.1", 0, max_upload_mb=1, max_side=400)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def photo(height=61, width=97, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / (width - 1), y * 255 / (height - 1), (x * 3 + y * 5) % 256], axis=-1)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def post(server, path, body: bytes, headers=None):
    request = urllib.request.Request(server.url.rstrip("/") + path, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get(server, path):
    with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as response:
        return response.status, response.headers.get("Content-Type"), response.read()


# ------------------------------------------------------------------ the HTTP API


def test_page_assets_and_info(server, checkpoint):
    status, kind, body = get(server, "/")
    assert status == 200 and kind.startswith("text/html") and b'id="strokes"' in body and b"app.js" in body
    for path, kind_start in (("/app.js", "text/javascript"), ("/style.css", "text/css")):
        status, kind, body = get(server, path)
        assert status == 200 and kind.startswith(kind_start) and body
    status, _, body = get(server, "/api/info")
    info = json.loads(body)
    assert info == {"model": "model.pt", "model_kind": "region_wise", "image_size": SIZE,
                    "max_upload_bytes": 1 << 20, "max_side": 400, "strategy": "crop"}
    with pytest.raises(urllib.error.HTTPError) as error:
        get(server, "/../rwgan/serve.py")
    assert error.value.code == 404


def test_open_and_inpaint_keep_known_pixels(server):
    rgba = np.dstack([photo(), np.full((61, 97), 200, np.uint8)])
    status, answer = post(server, "/api/open", png(rgba), {"X-Filename": "my%20photo.png"})
    assert status == 200 and (answer["width"], answer["height"], answer["mode"]) == (97, 61, "RGBA")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["preview"])))), rgba)
    hole = np.zeros((61, 97), bool)
    hole[20:35, 30:70] = True
    request = {"image": base64.b64encode(png(rgba)).decode(), "filename": "my photo.png",
               "mask": base64.b64encode(png(hole.astype(np.uint8) * 255)).decode()}
    status, answer = post(server, "/api/inpaint", json.dumps(request).encode(), {"Content-Type": "application/json"})
    assert status == 200 and answer["filename"] == "my photo-inpainted.png"
    result = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["result"]))))
    assert result.shape == (61, 97, 4)
    np.testing.assert_array_equal(result[~hole], rgba[~hole])
    assert not np.array_equal(result[hole], rgba[hole])


@pytest.mark.parametrize(
    "case, status, message",
    [
        ("text", 400, "notes.png: not a readable image (UnidentifiedImageError)"),
        ("too_wide", 400, "wide.png: image is 401x2, over the limit of 400 pixels a side"),
        ("too_big", 413, "over the limit of 1 MB"),
        ("no_json", 400, "request: expected JSON"),
        ("bad_base64", 400, "image: not valid base64"),
        ("mask_size", 400, "the painted mask: mask is 10x10 but p.png is 97x61"),
        ("mask_empty", 400, "the painted mask: mask has no hole"),
        ("unknown", 404, "/api/nothing: not found"),
    ],
)
def test_bad_requests_get_one_line_messages(server, case, status, message):
    image = base64.b64encode(png(photo())).decode()
    if case == "text":
        got = post(server, "/api/open", b"hello, not an image", {"X-Filename": "notes.png"})
    elif case == "too_wide":
        got = post(server, "/api/open", png(np.zeros((2, 401), np.uint8)), {"X-Filename": "wide.png"})
    elif case == "too_big":  # refused from its Content-Length, the body unread
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
        connection.putrequest("POST", "/api/open")
        connection.putheader("Content-Length", str(3 << 20))
        connection.endheaders()
        response = connection.getresponse()
        got = response.status, json.loads(response.read())
        connection.close()
    elif case == "no_json":
        got = post(server, "/api/inpaint", b"{not json")
    elif case == "bad_base64":
        got = post(server, "/api/inpaint", json.dumps({"image": "%%%", "mask": ""}).encode())
    elif case in ("mask_size", "mask_empty"):
        mask = np.zeros((10, 10) if case == "mask_size" else (61, 97), np.uint8)
        request = {"image": image, "mask": base64.b64encode(png(mask)).decode(), "filename": "p.png"}
        got = post(server, "/api/inpaint", json.dumps(request).encode())
    else:
        got = post(server, "/api/nothing", b"")
    assert got[0] == status and message in got[1]["error"], got
    assert "\n" not in got[1]["error"] and "Traceback" not in got[1]["error"]


def test_an_unexpected_failure_is_a_message_not_a_traceback(server, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("something deep inside")

    monkeypatch.setattr(server.app.inpainter, "inpaint", broken)
    hole = np.zeros((61, 97), np.uint8)
    hole[5:9, 5:9] = 255
    request = {"image": base64.b64encode(png(photo())).decode(), "mask": base64.b64encode(png(hole)).decode()}
    status, answer = post(server, "/api/inpaint", json.dumps(request).encode())
    assert status == 500 and answer == {"error": "internal error (ValueError); the server's log has the details"}


def test_cli_serves_on_localhost_and_reports_a_busy_port(checkpoint, server):
    process = subprocess.Popen([sys.executable, "-m", "rwgan.cli", "serve", "--checkpoint", str(checkpoint),
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("rwgan serve: http://127.0.0.1:"), line
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/info", timeout=30) as response:
            assert json.loads(response.read())["image_size"] == SIZE
    finally:
        process.terminate()
        process.wait(timeout=30)
    port = server.server_address[1]
    done = subprocess.run([sys.executable, "-m", "rwgan.cli", "serve", "--checkpoint", str(checkpoint),
                           "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: 127.0.0.1:{port}: cannot listen there"), done.stderr
    done = subprocess.run([sys.executable, "-m", "rwgan.cli", "serve", "--checkpoint", "nowhere.pt"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: nowhere.pt: checkpoint not found")


# ------------------------------------------------------------------ the page in a real browser


def _browser_missing():
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is absent (apt-get install chromium chromium-driver; .ci/run does)"
    return None


@pytest.fixture
def browser(tmp_path):
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,900"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def downloaded(folder: Path, name: str) -> Path:
    path = folder / name
    wait_for(lambda: path.exists() and not list(folder.glob("*.crdownload")), f"the download of {name}")
    return path


def test_page_removes_a_painted_stroke_and_downloads_the_result(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    image = photo(150, 221, seed=3)  # sides not divisible by 4
    Image.fromarray(image).save(tmp_path / "street.png")
    browser.get(server.url)
    state = lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-state")  # noqa: E731
    wait_for(lambda: "trained at 32 px" in browser.find_element(By.ID, "model").text, "the model's description")
    browser.find_element(By.ID, "file").send_keys(str(tmp_path / "street.png"))
    wait_for(lambda: state() == "painting", "the photo to open")
    assert not browser.find_element(By.ID, "run").is_enabled()  # nothing painted yet

    canvas = browser.find_element(By.ID, "strokes")
    scale = canvas.size["width"] / 221  # displayed pixels per image pixel
    brush = browser.find_element(By.ID, "brush")
    browser.execute_script("arguments[0].value = 20; arguments[0].dispatchEvent(new Event('input'))", brush)
    # stroke 1: a short diagonal, then undone; stroke 2: across the middle
    ActionChains(browser).move_to_element_with_offset(canvas, -60, -40).click_and_hold().move_by_offset(20, 10) \
        .release().perform()
    browser.find_element(By.ID, "undo").click()
    assert not browser.find_element(By.ID, "run").is_enabled()
    ActionChains(browser).move_to_element_with_offset(canvas, int(-40 * scale), 0).click_and_hold() \
        .move_by_offset(int(40 * scale), 0).move_by_offset(int(40 * scale), int(10 * scale)).release().perform()
    browser.find_element(By.ID, "run").click()
    wait_for(lambda: state() == "result", "the result")
    assert "Done in" in browser.find_element(By.ID, "message").text
    assert browser.find_element(By.ID, "compare").is_displayed()
    if os.environ.get("RWGAN_SERVE_SCREENSHOT"):
        browser.save_screenshot(os.environ["RWGAN_SERVE_SCREENSHOT"])

    browser.find_element(By.ID, "download-mask").click()
    browser.find_element(By.ID, "download").click()
    mask = np.asarray(Image.open(downloaded(browser.downloads, "street-mask.png")).convert("L"))
    result = Image.open(downloaded(browser.downloads, "street-inpainted.png"))
    assert result.mode == "RGB" and result.size == (221, 150)
    result = np.asarray(result)
    assert set(np.unique(mask)) == {0, 255}
    hole = mask == 255
    assert hole[75, 110 - 35] and hole[75, 110] and hole[80, 140]  # the stroke
    assert not hole[int(75 - 40 / scale), int(110 - 60 / scale)]  # not the undone one
    assert 500 < hole.sum() < 8000
    np.testing.assert_array_equal(result[~hole], image[~hole])  # known pixels exactly the input's
    assert not np.array_equal(result[hole], image[hole])
    print(f"browser test: {time.monotonic() - started:.1f} s")

    # a bad file: a message on the page, no stack trace, the result still there
    (tmp_path / "notes.png").write_text("not an image")
    browser.find_element(By.ID, "file").send_keys(str(tmp_path / "notes.png"))
    message = browser.find_element(By.ID, "message")
    wait_for(lambda: "notes.png: not a readable image" in message.text, "the error message")
    assert "error" in message.get_attribute("class") and message.get_attribute("role") == "alert"
    assert "Traceback" not in browser.page_source and state() == "result"
