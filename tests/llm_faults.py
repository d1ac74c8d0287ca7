"""Backends that inject faults a real model cannot be made to produce on demand."""

from __future__ import annotations

import time

from clir_rag.errors import LLMTransientError, LLMUnavailableError
from clir_rag.llm.base import Completion


class FaultyLLM:
    """Plays a script of outcomes: a string is an answer, an exception is raised, a float sleeps that long."""

    backend = "fault"
    model = "script"
    context_window = 4096

    def __init__(self, script: list, default: object = "") -> None:
        self.script = list(script)
        self.default = default
        self.calls = 0
        self.seen: list[list[dict]] = []  # the messages of every call

    def generate(self, messages, *, max_tokens=256, stop=None, temperature=0.0) -> Completion:
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
        return max(1, len(text) // 4)


TRANSIENT = LLMTransientError("HTTP 503")
DOWN = LLMUnavailableError("cannot reach the server at http://127.0.0.1:9: connection refused")
