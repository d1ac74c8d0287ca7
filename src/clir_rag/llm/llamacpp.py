"""In-process llama.cpp (``llama-cpp-python``, extra ``[local]``) on a local GGUF file."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from clir_rag.errors import LLMUnavailableError, missing_extra
from clir_rag.llm.base import BaseLLM, Completion, Message


class LlamaCppLLM(BaseLLM):
    """A GGUF chat model in this process; ``model_path=None`` loads the embedded default.

    llama.cpp contexts are not thread-safe, so calls are serialised by a lock;
    concurrency comes from running several requests against a server instead.
    """

    backend = "llama.cpp"
    native_stop = True
    # runs in this process: a timed-out call cannot be cancelled and keeps the model (LLMClient fails fast)
    in_process = True

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise missing_extra("the llama.cpp backend", "local", e) from e
        if model_path is None:
            from clir_rag.llm.models import default_gguf_path

            model_path = default_gguf_path()
        path = Path(model_path)
        if not path.is_file():
            raise LLMUnavailableError(f"GGUF model file not found: {path}")
        self._llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count() or 1,
            seed=seed,
            verbose=verbose,
        )
        self._lock = threading.Lock()
        self.model = path.name
        self.context_window = n_ctx
        self._formatter: Any = None  # llama_cpp's Jinja2ChatFormatter, built on first use

    def _completion(
        self, messages: list[Message], max_tokens: int, stop: list[str], temperature: float, stream: bool
    ) -> Any:
        return self._llm.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            stop=stop or None,
            temperature=temperature,
            top_k=1 if temperature == 0 else 40,
            stream=stream,
        )

    def _generate(self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float) -> Completion:
        with self._lock:
            out = self._completion(messages, max_tokens, stop, temperature, stream=False)
        resp = cast("dict[str, Any]", out)  # not streaming: one response, not an iterator of chunks
        return Completion.from_usage(resp["choices"][0]["message"].get("content") or "", resp.get("usage"))

    def _stream(
        self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float
    ) -> Iterator[Completion]:
        # The lock is held while the reply is read: one context generates one reply at a time. A reader
        # that stops early releases it when the generator is closed (or collected).
        with self._lock:
            chunks = self._completion(messages, max_tokens, stop, temperature, stream=True)
            for chunk in cast("Iterator[dict[str, Any]]", chunks):
                choices = chunk.get("choices") or [{}]
                piece = (choices[0].get("delta") or {}).get("content") or ""
                if piece:
                    yield Completion(piece)

    def count_tokens(self, text: str) -> int:
        """Exact: the model's own tokenizer."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        """The chat template applied with the assistant turn opened, as tokens."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            meta = self._llm.metadata
            template = meta.get("tokenizer.chat_template")
            if not template:
                raise LLMUnavailableError(f"{self.model} has no chat template for label scoring")
            vocab = self._llm._model
            eos = vocab.token_get_text(self._llm.token_eos())
            bos = vocab.token_get_text(self._llm.token_bos()) if self._llm.token_bos() >= 0 else ""
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        prompt = self._formatter(messages=[dict(m) for m in messages]).prompt
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def score_labels(self, messages: Sequence[Message], labels: Sequence[str]) -> dict[str, float]:
        """Log-probability of each label as the start of the assistant's reply."""
        prompt = self._prompt_tokens(messages)
        scores: dict[str, float] = {}
        with self._lock:
            for label in labels:
                cont = self._llm.tokenize(label.encode("utf-8"), add_bos=False, special=False)
                scores[label] = self._continuation_logprob(prompt, cont)
        return scores

    def _continuation_logprob(self, prompt: list[int], cont: list[int]) -> float:
        import numpy as np

        llm = self._llm
        tokens = prompt + cont
        # Reuse the KV cache for the longest prefix already evaluated (the shared prompt), but
        # always evaluate at least one token: only the last evaluated token's logits are kept.
        cached = llm.input_ids[: llm.n_tokens].tolist()
        keep = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            keep += 1
        llm.n_tokens = min(keep, len(prompt) - 1)
        total = 0.0
        for i, tok in enumerate(cont):
            llm.eval(tokens[llm.n_tokens : len(prompt) + i])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
            m = logits.max()
            total += float(logits[tok] - m - math.log(np.exp(logits - m).sum()))
        return total
