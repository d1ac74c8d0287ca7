"""The LLM protocol: chat generation, and label scoring where the backend can."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``backend`` and ``model`` name it in cache keys and reports."""

    backend: str
    model: str
    context_window: int

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> Completion: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class LabelScorer(Protocol):
    """A model that can score a fixed set of replies by log-probability (PRP's "Passage A"/"Passage B")."""

    def score_labels(self, messages: Sequence[Message], labels: Sequence[str]) -> dict[str, float]: ...


def supports_label_scores(llm: object) -> bool:
    return callable(getattr(llm, "score_labels", None))


def apply_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` at the first stop sequence, for backends that cannot stop generation themselves."""
    cut = min((text.index(s) for s in stop or [] if s and s in text), default=len(text))
    return text[:cut]
