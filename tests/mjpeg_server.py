"""A real HTTP MJPEG camera for tests: ``multipart/x-mixed-replace`` JPEG frames over TCP.

What many IP cameras serve at ``http://<camera>/video.mjpg``, read by the agent through OpenCV's
FFmpeg ``http://`` path. Frames are real JPEGs (``cv2.imencode``) of a drawn desk scene with a frame
counter. :meth:`MjpegCamera.stop` closes the listening socket and every client connection (the
camera is gone: connections are refused); :meth:`MjpegCamera.start` serves again on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "frame"
PATH = "/video.mjpg"


def jpeg_frame(index: int, width: int = 320, height: int = 240) -> bytes:
    """One real JPEG: a plain desk with two shapes and the frame number."""
    canvas = np.full((height, width, 3), 180, np.uint8)
    x = 40 + (index * 3) % (width - 120)
    cv2.ellipse(canvas, (x + 40, height // 2), (30, 40), 0, 0, 360, (150, 180, 220), -1)
    cv2.rectangle(canvas, (width - 90, 40), (width - 30, height - 40), (90, 60, 30), -1)
    cv2.putText(canvas, str(index), (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    ok, data = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return data.tobytes()


class MjpegCamera:
    """An MJPEG-over-HTTP camera on 127.0.0.1 that can be unplugged and plugged back."""

    def __init__(self, fps: float = 10.0) -> None:
        self.fps = fps
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self.frames_sent = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._gone = threading.Event()
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != PATH:
                    self.send_error(404)
                    return
                with camera._lock:
                    camera._clients.add(self.connection)
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    while not camera._gone.is_set():
                        camera.frames_sent += 1
                        data = jpeg_frame(camera.frames_sent)
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n".encode()
                            + data
                            + b"\r\n"
                        )
                        time.sleep(1.0 / camera.fps)
                except OSError:
                    pass
                finally:
                    with camera._lock:
                        camera._clients.discard(self.connection)

        self._gone.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Unplug: refuse new connections and cut the open ones."""
        self._gone.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
