"""Any OpenAI-compatible chat server through the ``openai`` SDK (extra ``[openai]``).

OpenAI, vLLM, Ollama, llama.cpp's server, TGI, LM Studio: give a base URL,
key and model, or set ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` /
``CLIR_RAG_LLM_MODEL``. The SDK's own retries are off: :class:`LLMClient`
retries transient failures, and a refused connection or a missing model is
reported once as :class:`~clir_rag.errors.LLMUnavailableError`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence

from clir_rag.errors import (
    InputError,
    LLMError,
    LLMTimeoutError,
    LLMTransientError,
    LLMUnavailableError,
    missing_extra,
)
from clir_rag.llm.base import BaseLLM, Completion, Message, plain_messages


class OpenAICompatibleLLM(BaseLLM):
    """A chat model behind an OpenAI-compatible server; tokens are estimated (the API has no tokenizer).

    The server's URL is part of every cache key (one model name on two servers may be two models);
    ``cache_endpoint`` names another URL there instead, for replicas of one model.
    """

    backend = "openai"
    native_stop = True

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        context_window: int = 8192,
        logprobs: bool = True,
        cache_endpoint: str | None = None,
    ) -> None:
        try:
            import openai
        except ImportError as e:
            raise missing_extra("the OpenAI-compatible backend", "openai", e) from e
        self.model = model or os.environ.get("CLIR_RAG_LLM_MODEL") or ""
        if not self.model:
            raise InputError("give a model name (or set CLIR_RAG_LLM_MODEL)")
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        # replicas of one model (vLLM servers behind --ray) name one endpoint in cache keys, so a call
        # cached from one replica is a hit on any of them
        self.cache_endpoint = cache_endpoint or self.base_url
        key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self._openai = openai
        self._client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=0)
        self.context_window = context_window
        self._logprobs = logprobs
        self._where = self.base_url or "api.openai.com"

    def _translate(self, e: Exception) -> Exception:
        o = self._openai
        if isinstance(e, o.APITimeoutError):
            return LLMTimeoutError(f"{self._where}: request timed out")
        if isinstance(e, o.APIConnectionError):
            return LLMUnavailableError(
                f"cannot reach the OpenAI-compatible server at {self._where}: {e.__cause__ or e}"
            )
        if isinstance(e, o.NotFoundError):
            return LLMUnavailableError(f"{self._where}: model {self.model!r} not found ({e.message})")
        if isinstance(e, o.AuthenticationError | o.PermissionDeniedError):
            return LLMUnavailableError(f"{self._where}: not authorised ({e.message}); check OPENAI_API_KEY")
        if isinstance(e, o.RateLimitError | o.InternalServerError):
            return LLMTransientError(f"{self._where}: {e.message}")
        if isinstance(e, o.APIStatusError):
            return LLMError(f"{self._where}: HTTP {e.status_code}: {e.message}")
        return e

    def _generate(self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float) -> Completion:
        try:
            resp = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                stop=stop or None,
                temperature=temperature,
            )
        except self._openai.OpenAIError as e:
            raise self._translate(e) from e
        if not resp.choices:
            raise LLMTransientError(f"{self._where}: answer with no choices")
        usage = resp.usage
        return Completion(
            text=resp.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )

    def _stream(
        self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float
    ) -> Iterator[Completion]:
        import httpx  # the SDK's transport: a connection dropped mid-stream surfaces as its error, not the SDK's

        finished = False
        try:
            chunks = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                max_tokens=max_tokens,
                stop=stop or None,
                temperature=temperature,
                stream=True,
                # servers that know it (OpenAI, vLLM) send the token counts in a last chunk; others ignore it
                stream_options={"include_usage": True},
            )
            with chunks:
                for chunk in chunks:
                    choice = chunk.choices[0] if chunk.choices else None
                    finished = finished or bool(choice and choice.finish_reason)
                    piece = (choice.delta.content or "") if choice else ""
                    usage = chunk.usage
                    if piece or usage:
                        yield Completion(
                            piece,
                            usage.prompt_tokens if usage else 0,
                            usage.completion_tokens if usage else 0,
                        )
        except self._openai.OpenAIError as e:
            raise self._translate(e) from e
        except httpx.TimeoutException as e:  # a server that stopped sending mid-answer (hung, SIGSTOPped)
            raise LLMTimeoutError(f"{self._where}: the answer stream stalled: {e or type(e).__name__}") from e
        except httpx.HTTPError as e:
            raise LLMTransientError(f"{self._where}: the answer stream broke: {e}") from e
        if not finished:  # a stream that ends with no finish reason was cut off (a server that went away)
            raise LLMTransientError(f"{self._where}: the answer stream ended before the answer did")

    def score_labels(self, messages: Sequence[Message], labels: Sequence[str]) -> dict[str, float]:
        """Scores from the top-20 log-probabilities of the reply tokens.

        Chat APIs cannot prefill the reply, so for labels sharing a prefix
        ("Passage A" / "Passage B") the reply is scanned for the first position
        whose candidates include a distinguishing part ("A", "B"), and each label
        scores the log-probability of its part there (-inf when absent).
        """
        if not self._logprobs:
            raise LLMError(f"log-probabilities disabled for {self._where}")
        try:
            resp = self._client.chat.completions.create(
                model=self.model,
                messages=plain_messages(messages),  # type: ignore[arg-type]
                max_tokens=4,
                temperature=0.0,
                logprobs=True,
                top_logprobs=20,
            )
        except self._openai.OpenAIError as e:
            raise self._translate(e) from e
        content = resp.choices[0].logprobs.content if resp.choices and resp.choices[0].logprobs else None
        if not content:
            raise LLMError(f"{self._where}: server returned no log-probabilities")
        prefix = _shared_prefix([lab.lower() for lab in labels])
        parts = {lab: lab.lower()[len(prefix) :].strip() for lab in labels}
        for position in content:
            top = [(t.token.strip().lower(), t.logprob) for t in position.top_logprobs]
            scores = {
                lab: max((lp for tok, lp in top if tok and part.startswith(tok)), default=-math.inf)
                for lab, part in parts.items()
            }
            if any(v > -math.inf for v in scores.values()):
                return scores
        return dict.fromkeys(labels, -math.inf)


def _shared_prefix(strings: list[str]) -> str:
    """Longest common leading substring, character by character."""
    if not strings:
        return ""
    first = strings[0]
    for i, ch in enumerate(first):
        if any(len(s) <= i or s[i] != ch for s in strings[1:]):
            return first[:i]
    return first
