"""Backends that inject faults a real model cannot be made to produce on demand."""

from __future__ import annotations

import time
from collections.abc import Sequence

from clir_rag.errors import LLMTransientError, LLMUnavailableError
from clir_rag.llm.base import Completion, Message


class FaultyLLM:
    """Plays a script of outcomes: a string is an answer, an exception is raised, a float sleeps that long."""

    backend = "fault"
    model = "script"
    context_window = 4096

    def __init__(self, script: list[object], default: object = "") -> None:
        self.script = list(script)
        self.default = default
        self.calls = 0
        self.seen: list[list[Message]] = []  # the messages of every call

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> Completion:
        """The next step of the script (or ``default`` once it is spent); the call and its messages are recorded."""
        self.calls += 1
        self.seen.append(list(messages))
        step = self.script.pop(0) if self.script else self.default
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, float):
            time.sleep(step)
            return Completion(text="[1] > [2]")
        return Completion(text=str(step), prompt_tokens=10, completion_tokens=3)

    def count_tokens(self, text: str) -> int:
        """About four characters a token, as for English text."""
        return max(1, len(text) // 4)


# a server that answered "try again later", and one that cannot be reached
TRANSIENT = LLMTransientError("HTTP 503")
DOWN = LLMUnavailableError("cannot reach the server at http://127.0.0.1:9: connection refused")


class GarbleServer:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 that answers from a script, cycling.

    For faults a real server cannot be made to produce on demand: answers that are not
    rankings ("I cannot help with that"), in a chosen share of the calls.
    """

    def __init__(self, answers: list[str], *, hold: bool = False, break_after: int | None = None) -> None:
        import http.server
        import json
        import socket
        import threading

        script = list(answers)
        calls = [0]
        # with ``hold``, each call signals ``received`` and answers only once ``release`` is set: a model busy
        # for as long as a test needs (a full queue), without a test waiting on a clock
        self.received, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked streams, as real servers send them

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.received.set()
                server.release.wait(120)
                text = script[calls[0] % len(script)]
                calls[0] += 1
                if request.get("stream"):
                    self.stream(text)
                    return
                body = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "garble",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def stream(self, text: str) -> None:
                """The answer word by word as server-sent events; with ``break_after``, the connection drops
                after that many words, mid-stream (a server that crashed while answering)."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")  # as uvicorn and vLLM send a stream
                self.end_headers()

                def send(data: bytes) -> None:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

                words = text.split(" ")
                for i, word in enumerate(words):
                    if break_after is not None and i == break_after:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    piece = word if i == 0 else " " + word
                    reason = "stop" if i + 1 == len(words) else None
                    chunk = {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "garble",
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": reason}],
                    }
                    send(f"data: {json.dumps(chunk)}\n\n".encode())
                send(b"data: [DONE]\n\n")
                send(b"")

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self.calls = calls
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
