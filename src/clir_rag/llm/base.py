"""The LLM protocol: chat generation, and label scoring where the backend can."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

from clir_rag.errors import InputError


class Message(TypedDict):
    """One chat turn."""

    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Completion:
    """A generated reply and its token counts (0 where the backend does not report them)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def from_usage(cls, text: str, usage: Mapping[str, Any] | None) -> Completion:
        """From an OpenAI-style ``usage`` mapping (``prompt_tokens``, ``completion_tokens``), missing keys as 0."""
        usage = usage or {}
        return cls(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``backend`` and ``model`` name it in cache keys and reports.

    Implement it directly, or subclass :class:`BaseLLM`, which does the shared part.
    """

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
    ) -> Completion:
        """Reply to ``messages`` with at most ``max_tokens`` tokens, cut before the first of ``stop``.

        Raises :class:`~clir_rag.errors.LLMError` (or its transient / unavailable
        subclasses) when the model cannot answer; :class:`~clir_rag.llm.LLMClient`
        retries and counts those.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt (an estimate that errs high where no tokenizer is at hand)."""
        ...


class BaseLLM:
    """Shared machinery of the backends: message checking, stop sequences, token counting.

    A backend sets ``backend``, ``model`` and ``context_window`` and implements
    :meth:`_generate`. Backends whose model cannot stop at a sequence itself leave
    ``native_stop`` False and get the reply cut here. :meth:`count_tokens`
    estimates (erring high); backends with a tokenizer override it.
    """

    backend: str = "base"
    model: str = ""
    context_window: int = 4096
    native_stop: bool = False

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> Completion:
        """See :meth:`LLM.generate`; raises :class:`~clir_rag.errors.InputError` for a malformed message."""
        msgs = plain_messages(messages)
        stops = [s for s in stop or [] if s]
        out = self._generate(msgs, max_tokens=max_tokens, stop=stops, temperature=temperature)
        if stops and not self.native_stop:
            out = Completion(apply_stop(out.text, stops), out.prompt_tokens, out.completion_tokens)
        return out

    def _generate(self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float) -> Completion:
        """Generate a reply to checked ``messages``; ``stop`` holds no empty strings."""
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        """See :meth:`LLM.count_tokens`: an estimate erring high by a quarter (no tokenizer at hand)."""
        from clir_rag.llm.approx import approximate_tokens

        return approximate_tokens(text)


def plain_messages(messages: Sequence[Message]) -> list[Message]:
    """``messages`` as plain dicts, checked: each needs a ``role`` and a string ``content``."""
    out: list[Message] = []
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise InputError(f"message {i}: needs a 'role' and a string 'content', got {dict(m)!r}")
        out.append(Message(role=role, content=content))
    return out


@runtime_checkable
class LabelScorer(Protocol):
    """A model that can score a fixed set of replies by log-probability (PRP's "Passage A"/"Passage B")."""

    def score_labels(self, messages: Sequence[Message], labels: Sequence[str]) -> dict[str, float]:
        """The log-probability of each label as the start of the reply (-inf where it cannot be scored)."""
        ...


def supports_label_scores(llm: object) -> bool:
    """Whether ``llm`` implements :class:`LabelScorer` (PRP's log-probability mode needs it)."""
    return callable(getattr(llm, "score_labels", None))


def apply_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` at the first stop sequence, for backends that cannot stop generation themselves."""
    cut = min((text.index(s) for s in stop or [] if s and s in text), default=len(text))
    return text[:cut]
