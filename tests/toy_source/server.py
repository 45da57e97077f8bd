"""The toy platform's server: ``GET /accounts/<handle>/posts?since_id=N&limit=K`` answers
``{"account": {...}, "posts": [...], "more": bool}``, newest first."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit


class ToyWorld:
    def __init__(self) -> None:
        self.accounts: dict[str, dict] = {}
        self.posts: list[dict] = []
        self.requests: list[str] = []

    def account(self, handle: str, account_id: str) -> None:
        self.accounts[handle] = {"id": account_id, "handle": handle}

    def post(self, handle: str, post_id: int, at: str, text: str,
             reply_to: int | None = None) -> None:
        self.posts.append({"id": post_id, "author": self.accounts[handle]["id"], "at": at,
                           "text": text, "reply_to": reply_to})


def _handler(world: ToyWorld):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            world.requests.append(self.path)
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if len(parts) != 3 or parts[0] != "accounts" or parts[1] not in world.accounts:
                self._send(404, {"error": "no such account"})
                return
            account = world.accounts[parts[1]]
            since, limit = int(query.get("since_id", 0)), int(query.get("limit", 100))
            mine = sorted((p for p in world.posts
                           if p["author"] == account["id"] and p["id"] > since),
                          key=lambda p: p["id"])
            page = mine[:limit]
            self._send(200, {"account": account, "posts": page[::-1],
                             "more": len(mine) > limit})

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve(world: ToyWorld) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(world))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
