"""A REST power relay on loopback, speaking labgrid's `simplerest` backend protocol:
GET /relay/<index>/<0|1> switches an outlet, GET /relay/<index> reads it ("0"/"1").
`stuck` outlets accept the switch but never change (a welded relay)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Relay:
    url: str  # the NetworkPowerPort host template
    outlets: dict[int, bool] = field(default_factory=dict)
    stuck: set[int] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)


@contextmanager
def relay() -> Iterator[Relay]:
    state = Relay("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            parts = self.path.strip("/").split("/")
            if parts[0] != "relay" or len(parts) not in (2, 3) or not parts[1].isdigit():
                self.send_error(404)
                return
            index = int(parts[1])
            if len(parts) == 3:
                if parts[2] not in ("0", "1"):
                    self.send_error(400)
                    return
                if index not in state.stuck:
                    state.outlets[index] = parts[2] == "1"
            body = b"1" if state.outlets.get(index) else b"0"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/relay/{{index}}/{{value}}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
