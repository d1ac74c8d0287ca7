"""The LLM protocol: chat generation, and label scoring where the backend can."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> Iterator[Completion]:
        """See :meth:`StreamingLLM.stream`; backends that cannot stream yield their whole reply once."""
        msgs = plain_messages(messages)
        stops = [s for s in stop or [] if s]
        parts = self._stream(msgs, max_tokens=max_tokens, stop=stops, temperature=temperature)
        if stops and not self.native_stop:
            # a stop sequence may straddle two pieces: cut the whole reply instead
            whole = join_completions(parts)
            yield Completion(apply_stop(whole.text, stops), whole.prompt_tokens, whole.completion_tokens)
            return
        yield from parts

    def _stream(
        self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float
    ) -> Iterator[Completion]:
        """Pieces of the reply to checked ``messages``; by default the whole of :meth:`_generate` as one."""
        yield self._generate(messages, max_tokens=max_tokens, stop=stop, temperature=temperature)

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
class StreamingLLM(LLM, Protocol):
    """An :class:`LLM` that can hand out its reply while it is generated (every :class:`BaseLLM` can)."""

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> Iterator[Completion]:
        """:meth:`LLM.generate`'s reply in pieces, as they are generated.

        Each :class:`Completion` holds the next piece of text; the pieces join into the
        reply. Token counts, where the backend reports them, add up over the pieces
        (usually all on the last). Raises what :meth:`LLM.generate` raises, possibly
        after some pieces were handed out.
        """
        ...


def supports_streaming(llm: object) -> bool:
    """Whether ``llm`` implements :class:`StreamingLLM`; :class:`~clir_rag.llm.LLMClient` falls back to one piece."""
    return callable(getattr(llm, "stream", None))


def join_completions(parts: Iterator[Completion] | Sequence[Completion]) -> Completion:
    """One completion from streamed pieces: texts joined, token counts added."""
    text, prompt, completion = [], 0, 0
    for part in parts:
        text.append(part.text)
        prompt += part.prompt_tokens
        completion += part.completion_tokens
    return Completion("".join(text), prompt, completion)


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
