"""``rwgan serve``: a local web page to paint over an object and remove it.

    rwgan serve --checkpoint model.pt [--host 127.0.0.1] [--port 8000]

The page (``rwgan/web/``: one HTML file, one script, one style sheet, no framework and
nothing fetched from the internet) opens a photo, lets the user paint the hole with a
round brush (size slider, undo, clear), sends photo and mask to this server, shows the
result beside the original with a before/after slider, and downloads the result PNG and
the mask PNG (white = hole, usable with ``rwgan inpaint``).

**Why this stack.** The design is IOPaint's (lama-cleaner's): a small local HTTP server
and a canvas page, the tool people already use to remove objects.  The server is the
standard library's :class:`http.server.ThreadingHTTPServer` rather than FastAPI/uvicorn
or Gradio: the page needs three static files and two JSON endpoints, and a Python ML
user gets it with no new dependency and nothing more to keep pinned (Gradio brings
FastAPI, uvicorn, pydantic, httpx and more, and a JavaScript bundle).  The photo decoding, the crop strategy
and the known-pixel guarantee are :mod:`rwgan.photo`'s, exactly as for ``rwgan inpaint``.

**Endpoints** (all answers are JSON; an error is ``{"error": "<one line>"}`` with status
400, 404, 411 or 413; an unexpected failure is 500 with a one-line message, and its
traceback goes to the server's log, never to the page):

- ``GET /`` the page; ``GET /app.js``, ``GET /style.css`` its assets;
- ``GET /api/info`` the model (file, kind, training size) and the limits;
- ``POST /api/open`` body: the photo file's bytes (header ``X-Filename``, URL-encoded).
  Answers ``{width, height, mode, preview}``: the upright photo as an 8-bit PNG, base64;
- ``POST /api/inpaint`` body: JSON ``{image, mask, filename}`` with the photo's file
  bytes and a mask PNG (white = hole, the upright photo's size) in base64.  Answers
  ``{result, filename, seconds}``: the result PNG, base64, in the photo's mode, its known
  pixels and alpha equal to the photo's.

**Safety.** It binds to 127.0.0.1 unless told otherwise (and says so when it is not);
bodies over the upload limit are refused from their Content-Length without being read;
photos are checked against ``max_side`` from their header before they are decoded;
Pillow's decompression-bomb check stays on; one model run at a time.
"""
from __future__ import annotations

import base64
import binascii
import http.server
import json
import logging
import sys
import threading
import time
import traceback
import urllib.parse
from importlib import resources
from pathlib import PurePath

from rwgan import photo as photos
from rwgan.errors import RwganError

log = logging.getLogger("rwgan.serve")

ASSETS = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
MASK_ALLOWANCE = 8 << 20  # room for the mask PNG and the JSON around the photo in /api/inpaint


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _asset(name: str) -> bytes:
    return resources.files("rwgan").joinpath("web", name).read_bytes()


def _b64decode(text, what: str) -> bytes:
    if not isinstance(text, str):
        raise _Refused(400, f"{what}: expected base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(400, f"{what}: not valid base64") from None


class App:
    """What the handler needs: the inpainter, the limits, and a lock around the model."""

    def __init__(self, inpainter, max_upload_bytes: int = 40 << 20, max_side: int = 8192,
                 strategy: str = "crop", margin: int = photos.DEFAULT_MARGIN):
        self.inpainter = inpainter
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_side = int(max_side)
        self.strategy = strategy
        self.margin = margin
        self.lock = threading.Lock()

    def info(self) -> dict:
        return {"model": PurePath(str(self.inpainter.source)).name, "model_kind": self.inpainter.model_kind,
                "image_size": int(self.inpainter.image_size), "max_upload_bytes": self.max_upload_bytes,
                "max_side": self.max_side, "strategy": self.strategy}

    def open(self, data: bytes, filename: str) -> dict:
        if len(data) > self.max_upload_bytes:
            raise _Refused(413, self._too_big(filename, len(data)))
        picture = photos.read_photo(data, filename, self.max_side)
        height, width = picture.shape
        preview = photos.encode_png(picture.preview, "RGBA" if picture.has_alpha else "RGB")
        return {"width": width, "height": height, "mode": picture.mode,
                "preview": base64.b64encode(preview).decode("ascii")}

    def inpaint(self, request: dict) -> dict:
        if not isinstance(request, dict):
            raise _Refused(400, "request: expected a JSON object with image, mask and filename")
        filename = str(request.get("filename") or "photo")
        image = _b64decode(request.get("image"), "image")
        if len(image) > self.max_upload_bytes:
            raise _Refused(413, self._too_big(filename, len(image)))
        mask = _b64decode(request.get("mask"), "mask")
        picture, hole = photos.read_pair(image, mask, filename, "the painted mask", self.max_side)
        started = time.perf_counter()
        with self.lock:
            pixels = photos.inpaint_photo(self.inpainter, picture, hole, self.strategy, self.margin)
        seconds = time.perf_counter() - started
        result = photos.encode_png(pixels, picture.mode)
        stem = PurePath(filename).stem or "photo"
        return {"result": base64.b64encode(result).decode("ascii"), "filename": f"{stem}-inpainted.png",
                "seconds": round(seconds, 3)}

    def _too_big(self, filename: str, size: int) -> str:
        return (f"{filename}: file is {size / 2**20:.1f} MB, over the limit of "
                f"{self.max_upload_bytes / 2**20:.0f} MB")


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves the page and the two API calls of :class:`App` (``self.server.app``)."""

    server_version = "rwgan"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: dict) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = urllib.parse.urlsplit(self.path).path
        app: App = self.server.app
        if path == "/api/info":
            return self._json(200, app.info())
        if path in ASSETS:
            name, content_type = ASSETS[path]
            return self._send(200, _asset(name), content_type)
        return self._json(404, {"error": f"{path}: not found"})

    def do_POST(self):  # noqa: N802
        app: App = self.server.app
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path not in ("/api/open", "/api/inpaint"):
                self.close_connection = True
                raise _Refused(404, f"{path}: not found")
            body = self._body(app, path)
            if path == "/api/open":
                filename = urllib.parse.unquote(self.headers.get("X-Filename", "") or "photo")
                answer = app.open(body, PurePath(filename).name or "photo")
            else:
                try:
                    request = json.loads(body)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise _Refused(400, "request: expected JSON") from None
                answer = app.inpaint(request)
        except _Refused as exc:
            return self._json(exc.status, {"error": str(exc)})
        except RwganError as exc:
            return self._json(400, {"error": str(exc).splitlines()[0]})
        except Exception as exc:  # never a traceback on the page; the log keeps it
            log.error("%s failed:\n%s", path, traceback.format_exc())
            return self._json(500, {"error": f"internal error ({exc.__class__.__name__}); "
                                             "the server's log has the details"})
        return self._json(200, answer)

    def _body(self, app: App, path: str) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise _Refused(411, "request: Content-Length needed")
        limit = app.max_upload_bytes if path == "/api/open" else app.max_upload_bytes * 4 // 3 + MASK_ALLOWANCE
        if int(length) > limit:
            self.close_connection = True  # the body is not read
            raise _Refused(413, f"upload is {int(length) / 2**20:.1f} MB, over the limit of "
                                f"{app.max_upload_bytes / 2**20:.0f} MB")
        return self.rfile.read(int(length))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app: App):
        self.app = app
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


def make_server(inpainter, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: float = 40.0,
                max_side: int = 8192) -> Server:
    """A :class:`Server` bound to (host, port) (port 0: a free one), not yet serving;
    :class:`RwganError` if the address cannot be used or a limit is not positive."""
    if max_upload_mb <= 0 or max_side <= 0:
        raise RwganError(f"limits: expected --max-upload-mb and --max-side above 0, got {max_upload_mb} "
                         f"and {max_side}")
    app = App(inpainter, int(max_upload_mb * 2**20), max_side)
    try:
        return Server((host, port), app)
    except OSError as exc:
        raise RwganError(f"{host}:{port}: cannot listen there ({exc.strerror or exc}); "
                         "choose another --port or --host") from None


def serve(inpainter, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: float = 40.0,
          max_side: int = 8192, open_browser: bool = False) -> int:
    """Run the page until Ctrl-C; returns the exit status 0."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    server = make_server(inpainter, host, port, max_upload_mb, max_side)
    print(f"rwgan serve: {server.url} (model {inpainter.source}; Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host}: other computers on the network can use this page", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
