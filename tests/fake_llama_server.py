"""A stand-in for ``python -m llama_cpp.server`` in the server lifecycle tests.

It takes the same flags, refuses a model file that is not GGUF the way llama.cpp does ("Failed to load
model"), and, like llama.cpp's server, answers one request at a time: while a completion "generates"
(``SECONDS_PER_TOKEN`` per requested token) even ``GET /v1/models`` waits, which is what makes a busy
server look busy. Selected by ``BENCHMAKER_LOCAL_SERVER_MODULE=tests.fake_llama_server``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECONDS_PER_TOKEN = 0.06


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--model", "--model_alias", "--host", "--port", "--n_threads", "--n_ctx", "--interrupt_requests"):
        parser.add_argument(flag, required=flag in ("--model", "--port"))
    args = parser.parse_args()
    with open(args.model, "rb") as handle:
        if handle.read(4) != b"GGUF":
            print(f"gguf_init_from_file: invalid magic\nFailed to load model from file: {args.model}", flush=True)
            sys.exit(1)
    alias = args.model_alias or "local"

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.rstrip("/") == "/v1/models":
                self._reply({"object": "list", "data": [{"id": alias, "object": "model"}]})
            else:
                self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            tokens = int(body.get("max_tokens") or 16)
            time.sleep(tokens * SECONDS_PER_TOKEN)
            self._reply(
                {
                    "object": "chat.completion",
                    "model": alias,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1},
                }
            )

        def log_message(self, *args: object) -> None:
            pass

    HTTPServer((args.host or "127.0.0.1", int(args.port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
