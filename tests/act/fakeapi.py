"""A tiny stand-in for the GitHub REST API: just the routes the workflows call
themselves (branch, contents, pull request, issue, comment), recording every request.

TODO(fakegithub): tests/fakegithub.py from the `github` branch speaks much more of
the API (comments, statuses, pagination, faults) and is what `ci-ml report` will be
tested against; once merged, serve the act runs from it (its `fake_github` fixture)
and drop this file. The act tests only need: `url`, `requests`, `pulls`, `issues`.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorized: bool


@dataclass
class State:
    requests: list[Recorded] = field(default_factory=list)
    refs: dict[str, str] = field(default_factory=dict)
    contents: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (branch, path)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    numbers: int = 100

    def next_number(self) -> int:
        self.numbers += 1
        return self.numbers


REPO = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"


class FakeApi:
    def __init__(self) -> None:
        self.state = State()
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def called(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.state.requests if r.method == method and re.search(pattern, r.path)]

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        s = self.state
        routes: list[tuple[str, str]] = [
            ("GET", REPO + r"/pulls"),
            ("POST", REPO + r"/git/refs"),
            ("GET", REPO + r"/contents/(?P<path>.+)"),
            ("PUT", REPO + r"/contents/(?P<path>.+)"),
            ("POST", REPO + r"/pulls"),
            ("GET", REPO + r"/issues"),
            ("POST", REPO + r"/issues"),
            ("POST", REPO + r"/issues/(?P<n>\d+)/comments"),
            ("POST", REPO + r"/statuses/(?P<sha>\w+)"),
        ]
        for verb, pattern in routes:
            match = re.fullmatch(pattern, path)
            if verb != method or not match:
                continue
            if path.endswith("/pulls") and method == "GET":
                head = query.get("head", "")
                ref = head.split(":", 1)[-1]
                return 200, [
                    p for p in s.pulls if p["state"] == "open" and (not ref or p["head"] == ref)
                ]
            if path.endswith("/git/refs"):
                ref = str(body["ref"]).removeprefix("refs/heads/")
                if ref in s.refs:
                    return 422, {"message": "Reference already exists"}
                s.refs[ref] = body["sha"]
                return 201, {"ref": body["ref"], "object": {"sha": body["sha"]}}
            if "/contents/" in path:
                branch = query.get("ref") or (body or {}).get("branch", "")
                key = (branch, match["path"])
                if method == "GET":
                    if key not in s.contents:
                        return 404, {"message": "Not Found"}
                    return 200, {"sha": f"sha-{len(s.contents[key])}", "path": match["path"]}
                import base64

                s.contents[key] = base64.b64decode(body["content"])
                return 201, {"content": {"path": match["path"]}}
            if path.endswith("/pulls"):
                number = s.next_number()
                pull = {
                    "number": number,
                    "state": "open",
                    "head": body["head"],
                    "base": body["base"],
                    "title": body["title"],
                    "body": body["body"],
                }
                s.pulls.append(pull)
                return 201, pull
            if path.endswith("/issues") and method == "GET":
                labels = {x for x in query.get("labels", "").split(",") if x}
                return 200, [
                    i for i in s.issues if i["state"] == "open" and labels <= set(i["labels"])
                ]
            if path.endswith("/issues"):
                issue = {
                    "number": s.next_number(),
                    "state": "open",
                    "title": body["title"],
                    "body": body["body"],
                    "labels": list(body.get("labels", [])),
                }
                s.issues.append(issue)
                return 201, issue
            if path.endswith("/comments"):
                comment = {"id": s.next_number(), "issue": int(match["n"]), "body": body["body"]}
                s.comments.append(comment)
                return 201, comment
            if "/statuses/" in path:
                s.statuses.append({"sha": match["sha"], **body})
                return 201, body
        return 404, {"message": f"fake api: no route for {method} {path}"}


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        authorized = (self.headers.get("Authorization") or "").startswith(("Bearer ", "token "))
        path = parsed.path.removeprefix("/api/v3")
        with self.api.lock:
            self.api.state.requests.append(Recorded(self.command, path, query, body, authorized))
            status, answer = self.api.answer(self.command, path, query, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
