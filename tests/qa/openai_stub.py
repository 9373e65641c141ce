"""A tiny OpenAI-compatible chat server for tests: POST /v1/chat/completions on 127.0.0.1.

It answers with a configurable reply, streamed as server-sent events (``data: {...}`` chunks,
then ``data: [DONE]``) when the request asks for ``stream``, as one JSON object otherwise. It
records every request body, so tests can check what reached the prompt. It can be slow
(``delay_s``, to test time-outs) or fail (``status``). It implements nothing else of the API.

    with OpenAIStub("Poetin gaf Kim een auto [1].") as stub:
        settings = Settings(llm="openai:stub-model", llm_base_url=stub.base_url)
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub:
    def __init__(self, reply: str = "Dat staat niet in de artikelen.", *, delay_s: float = 0.0,
                 status: int = 200) -> None:  # fmt: skip
        self.reply = reply
        self.delay_s = delay_s
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]

    def prompt_text(self) -> str:
        """All message contents of the last request, joined."""
        return "\n".join(str(m.get("content", "")) for m in self.last_request["messages"])

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def deltas(text: str) -> list[str]:
    """How the stub cuts a reply into streamed pieces: one word (with its spacing) each."""
    return [p for p in re.findall(r"\S+\s*|\s+", text) if p]


def _make_handler(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: the connection closes after each response, which ends an event stream.
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches on
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            stub.requests.append(body)
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._json(404, {"error": {"message": f"no route {self.path}"}})
            if stub.delay_s and stub._stopping.wait(stub.delay_s):
                return
            try:
                if stub.status != 200:
                    return self._json(stub.status, {"error": {"message": "stub failure"}})
                if body.get("stream"):
                    return self._stream(body)
                return self._json(200, _completion(body, stub.reply))
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (time-out)
                return None

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            pieces = deltas(stub.reply)
            for i, piece in enumerate(pieces):
                delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                self._event(_chunk(body, delta, None))
            self._event(_chunk(body, {}, "stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep tests quiet
            pass

    return Handler


def _completion(body: dict[str, Any], reply: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "stub-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": body.get("model", "stub-model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
