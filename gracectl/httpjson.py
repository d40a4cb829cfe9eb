"""Tiny JSON-over-HTTP client for loopback control endpoints (etcd, Patroni, HAProxy stats)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any


class HttpProblem(Exception):
    """The endpoint did not answer, or answered with something unusable."""


def request(
    url: str,
    method: str = "GET",
    body: Any = None,
    timeout_s: float = 2.0,
    auth: tuple[str, str] | None = None,
) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise HttpProblem(f"{url}: {exc}") from exc


def get_json(url: str, timeout_s: float = 2.0) -> Any:
    status, text = request(url, timeout_s=timeout_s)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise HttpProblem(f"{url}: HTTP {status}, not JSON") from exc


def post_json(url: str, body: Any, timeout_s: float = 2.0) -> Any:
    status, text = request(url, "POST", body, timeout_s)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise HttpProblem(f"{url}: HTTP {status}, not JSON") from exc
