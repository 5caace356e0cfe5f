"""The simulated provider's HTTP server: OpenAI's chat-completions API on 127.0.0.1, answered by the
scripted fake, delayed by the latency model, and failing as the fault mix says.

A threaded stdlib server: one thread per connection, so dozens of requests wait out their latency at
once. Every request is logged (when it came, when its reply was sent, its body's digest, what happened),
which is what the fault and kill suites count: replies paid, retried, lost in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmaker.errors import LLMFatalError, LLMPermanentError, LLMTransientError
from benchmaker.llm.scripted import Script, ScriptedLLM
from benchmaker.llm.types import LLMRequest, Message
from benchmaker.simulate.faults import Decision, SimulationSettings, decide
from benchmaker.simulate.prompts import identify

UNAUTHORIZED_SUFFIX = "-unauthorized"
"""A model name ending so is refused with 401, echoing the key it was sent (as a careless provider might)."""


@dataclass
class RequestLog:
    started: float
    key: str
    """Digest of the request body: the same request sent again (a retry, a resume) has the same key."""
    prompt_id: str = ""
    outcome: str = "in_flight"
    """ok, a fault kind, unauthorized, bad_request, or client_gone (the client left before the reply)."""
    ended: float | None = None
    reply: str = ""
    """The reply's id (unique per response): a client that stored the reply keeps it with it."""


@dataclass
class Stats:
    log: list[RequestLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: dict[str, int] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    """Bearer keys the requests presented (kept in memory only: tests check a key reached the provider)."""

    def begin(self, key: str) -> tuple[RequestLog, int]:
        with self.lock:
            occurrence = self.seen.get(key, 0)
            self.seen[key] = occurrence + 1
            entry = RequestLog(started=time.monotonic(), key=key, reply=f"chatcmpl-sim-{len(self.log)}")
            self.log.append(entry)
            return entry, occurrence

    def end(self, entry: RequestLog, outcome: str) -> None:
        with self.lock:
            entry.outcome, entry.ended = outcome, time.monotonic()

    def entries(self) -> list[RequestLog]:
        with self.lock:
            return list(self.log)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries():
            counts[entry.outcome] = counts.get(entry.outcome, 0) + 1
        return counts

    def in_flight(self) -> int:
        return sum(entry.outcome == "in_flight" for entry in self.entries())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], provider: SimulatedProvider) -> None:
        self.provider = provider
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        with contextlib.suppress(OSError):
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client gone mid-reply, a reset we made ourselves: nothing to report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "benchmaker-simulated-provider/1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "simulated", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        self.server.provider.handle(self, raw)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> bool:
        """False when the client is gone (it timed out, or was killed)."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def _json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> bool:
        return self._send(status, json.dumps(data).encode(), "application/json", headers)

    def reset(self) -> None:
        """Drop the connection with a TCP reset, before any byte of a reply."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": kind}}


def _request_of(body: dict[str, Any]) -> LLMRequest:
    """The scripted fake's view of an OpenAI chat request (the prompt recognised from its text)."""
    messages = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        role = message.get("role") if message.get("role") in ("system", "user", "assistant") else "user"
        messages.append(Message(role=role, content=str(content or "")))
    if not messages:
        raise ValueError("no messages")
    text = "\n".join(m.content for m in messages)
    response_format = body.get("response_format") or {}
    schema = None
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
    elif response_format.get("type") == "json_object":
        schema = response_format.get("schema")
    return LLMRequest(
        model="scripted",
        messages=tuple(messages),
        temperature=body.get("temperature"),
        max_tokens=body.get("max_tokens"),
        n=int(body.get("n") or 1),
        seed=body.get("seed"),
        response_schema=schema if isinstance(schema, dict) else None,
        prompt_id=identify(text),
    )


class SimulatedProvider:
    """Start with :meth:`start` (or as a context manager); point a role at ``openai/<any name>`` with
    ``api_base`` = :attr:`api_base` and ``response_format: json_schema``."""

    def __init__(
        self,
        settings: SimulationSettings | None = None,
        *,
        script: Script | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.settings = settings or SimulationSettings()
        self.fake = ScriptedLLM(script or Script())
        self.stats = Stats()
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> SimulatedProvider:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="simulated-provider", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        with self._server.connections_lock:
            connections = list(self._server.connections)
        for connection in connections:  # wake handlers waiting on kept-alive connections
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()

    def __enter__(self) -> SimulatedProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """For the command line: serve until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    # -- one request ---------------------------------------------------------------------------------

    def handle(self, handler: _Handler, raw: bytes) -> None:
        key = hashlib.sha256(raw).hexdigest()
        entry, occurrence = self.stats.begin(key)
        presented = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        with self.stats.lock:
            self.stats.keys.add(presented)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
            request = _request_of(body)
        except (ValueError, TypeError) as error:
            handler._json(400, _error(f"bad request: {error}", "invalid_request_error"))
            self.stats.end(entry, "bad_request")
            return
        entry.prompt_id = request.prompt_id
        model = str(body.get("model") or "simulated")
        if model.endswith(UNAUTHORIZED_SUFFIX):
            handler._json(401, _error(f"Incorrect API key provided: {presented}", "invalid_api_key"))
            self.stats.end(entry, "unauthorized")
            return
        decision = decide(self.settings, key, occurrence)
        outcome = self._reply(handler, request, model, decision, entry)
        self.stats.end(entry, outcome)

    def _reply(self, handler: _Handler, request: LLMRequest, model: str, decision: Decision, entry: RequestLog) -> str:
        faults, fault = self.settings.faults, decision.fault
        if fault == "rate_limit":
            retry_after = {"Retry-After": f"{faults.retry_after_s:g}"}
            handler._json(429, _error("rate limit reached, retry later", "rate_limit_exceeded"), retry_after)
            return fault
        if fault == "server_error":
            status = decision.rng.choice((500, 503))
            handler._json(status, _error("the simulated server failed", "server_error"))
            return fault
        if fault == "reset":
            handler.reset()
            return fault
        if not request.prompt_id:
            handler._json(400, _error("the simulated provider does not know this prompt", "invalid_request_error"))
            return "bad_request"
        try:
            completion = self.fake.complete(request)
        except LLMFatalError as error:
            handler._json(401, _error(str(error), "invalid_api_key"))
            return "unauthorized"
        except LLMTransientError as error:
            handler._json(503, _error(str(error), "server_error"))
            return "server_error"
        except LLMPermanentError as error:
            handler._json(400, _error(str(error), "invalid_request_error"))
            return "bad_request"
        texts = list(completion.texts)
        output_tokens = completion.usage.output_tokens
        # The n choices of one request are decoded side by side: the reply streams for its longest choice
        # (counted as the fake counts tokens, in words), not for all of them one after another.
        longest = max((len(text.split()) for text in texts), default=0)
        delay = self.settings.latency.seconds(decision.rng, longest)
        if fault == "slow":
            delay = max(delay, faults.slow_s)
        time.sleep(delay)
        if fault == "schema_break":
            texts = ['{"unexpected": "a reply that is not what the schema asked for"}'] * len(texts)
        reply = {
            "id": entry.reply,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": []
            if fault == "empty_choices"
            else [
                {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                for i, text in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": completion.usage.input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": completion.usage.input_tokens + output_tokens,
            },
        }
        payload = json.dumps(reply).encode()
        if fault == "truncated_json":
            sent = handler._send(200, payload[: len(payload) // 2], "application/json")
        elif fault == "non_json":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            sent = handler._send(200, page, "text/html")
        else:
            sent = handler._send(200, payload, "application/json")
        if not sent:
            return "client_gone"
        return "ok" if fault is None else fault
