"""Open a local HTML file in headless Chromium (Debian's package) and look at it as a reader
would: console errors and uncaught exceptions, facts evaluated in the page after load,
screenshots.

Talks the DevTools protocol over `--remote-debugging-pipe` (fd 3 in, fd 4 out, one JSON
message per NUL byte): no port, no websocket client. Runs as root, hence `--no-sandbox`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

CHROMIUM = "chromium"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--remote-debugging-pipe",
    "--window-size=1280,900",
)


class ChromiumError(RuntimeError):
    pass


class _Pipe:
    """The DevTools protocol over two pipes: requests with ids, events collected."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError("timed out waiting for Chromium")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 20)
                if not chunk:
                    raise ChromiumError("Chromium closed the debugging pipe")
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self, method: str, session: str | None = None, timeout: float = 30, **params: Any
    ) -> dict[str, Any]:
        self.next_id += 1
        request: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self.to_browser, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise ChromiumError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_event(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """The first event `method` whose params include `params` (already seen or next)."""

        def matches(event: dict[str, Any]) -> bool:
            got = event.get("params", {})
            return event.get("method") == method and all(got.get(k) == v for k, v in params.items())

        deadline = time.monotonic() + timeout
        for event in self.events:
            if matches(event):
                return event
        while True:
            message = self._read_message(deadline)
            self.events.append(message)
            if matches(message):
                return message


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    """Uncaught exceptions, console.error/assert calls and browser log errors (failed loads,
    blocked resources) among DevTools events."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(
                f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}"
            )
    return errors


class Page:
    """A page loaded in headless Chromium, open until the `open_page` block ends."""

    def __init__(self, pipe: _Pipe, session: str) -> None:
        self.pipe = pipe
        self.session = session

    def console_errors(self) -> list[str]:
        return console_errors(self.pipe.events)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression`; an exception in it is an error here."""
        answer = self.pipe.call(
            "Runtime.evaluate", self.session, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in answer:
            raise ChromiumError(f"{expression!r} raised: {answer['exceptionDetails']}")
        return answer.get("result", {}).get("value")

    def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        """PNG of the whole page, or of `clip` ({x, y, width, height} in page pixels)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        shot = self.pipe.call("Page.captureScreenshot", self.session, timeout=60, **params)
        return base64.b64decode(shot["data"])


@contextmanager
def open_page(html_file: Path, timeout: float = 60) -> Iterator[Page]:
    """Start Chromium, load `html_file` and wait for its load event."""
    binary = shutil.which(CHROMIUM)
    if binary is None:
        raise ChromiumError("chromium is not installed (scripts/setup.sh installs it)")
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    profile = tempfile.mkdtemp(prefix="gracectl-chromium-")

    def wire_fds() -> None:  # in the child: fd 3 reads requests, fd 4 writes answers
        # Via fds above 4 first, so neither pipe end is overwritten if it already sits on 3/4.
        requests, answers = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_r, from_w))
        os.dup2(requests, 3)
        os.dup2(answers, 4)

    process = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(3, 4),
        preexec_fn=wire_fds,
    )
    os.close(to_r)
    os.close(from_w)
    pipe = _Pipe(to_w, from_r)
    try:
        target = pipe.call("Target.createTarget", url="about:blank", timeout=timeout)
        attached = pipe.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            pipe.call(f"{domain}.enable", session)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        pipe.call("Page.setLifecycleEventsEnabled", session, enabled=True)
        # The load event of this navigation, not a late one of the initial about:blank.
        navigation = pipe.call("Page.navigate", session, url=html_file.resolve().as_uri())
        if "errorText" in navigation:
            raise ChromiumError(f"cannot open {html_file}: {navigation['errorText']}")
        pipe.wait_event(
            "Page.lifecycleEvent", timeout, name="load", loaderId=navigation["loaderId"]
        )
        yield Page(pipe, session)
        with suppress(ChromiumError):
            pipe.call("Browser.close", timeout=10)
    finally:
        os.close(to_w)
        os.close(from_r)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium
    writes), unfiltered: enough to tell a blank page from a drawn one."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    offset, idat = 8, b""
    width = height = channels = 0
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data)
            if depth != 8 or color not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {color}")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += data
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            up_left = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def distinct_colours(png: bytes, sample_every: int = 3) -> int:
    """Distinct pixel colours on a grid of every `sample_every`-th pixel and row."""
    width, _, rows = png_pixels(png)
    channels = len(rows[0]) // width if rows else 3
    seen = set()
    for row in rows[::sample_every]:
        for x in range(0, width, sample_every):
            seen.add(row[x * channels : x * channels + 3])
    return len(seen)
