"""A local Hugging Face causal LM through transformers (extra ``[st]`` brings torch and transformers).

Label scoring reads the model's logits directly, so PRP's log-prob mode works
with any causal LM, chat-tuned or not.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clir_rag.errors import LLMUnavailableError, missing_extra
from clir_rag.llm.base import BaseLLM, Completion, Message


class TransformersLLM(BaseLLM):
    """``model_name_or_path``: a hub id (needs internet) or a local folder saved with ``save_pretrained``."""

    backend = "transformers"
    # runs in this process: a timed-out call cannot be cancelled and keeps the model (LLMClient fails fast)
    in_process = True

    def __init__(
        self,
        model_name_or_path: str | Path,
        *,
        device: str = "cpu",
        context_window: int | None = None,
        torch_dtype: Any = None,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            raise missing_extra("the transformers backend", "st", e) from e
        name = str(model_name_or_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name)
            auto: Any = AutoModelForCausalLM  # transformers' stubs type from_pretrained's result too narrowly
            self._model = auto.from_pretrained(name, torch_dtype=torch_dtype).to(device).eval()
        except OSError as e:
            raise LLMUnavailableError(f"cannot load transformers model {name!r}: {e}") from e
        self._torch = torch
        self._device = device
        self._lock = threading.Lock()
        self.model = name
        self.context_window = context_window or int(getattr(self._model.config, "max_position_embeddings", 2048))

    def _prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        if getattr(self.tokenizer, "chat_template", None):
            ids: Any = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys"):  # newer transformers return a BatchEncoding
                ids = ids["input_ids"]
            return list(ids)
        # Base models have no chat template: a plain transcript ending where the reply starts.
        text = "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant:"
        return self.tokenizer(text, add_special_tokens=True)["input_ids"]

    def _generate(self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float) -> Completion:
        torch = self._torch
        prompt = self._prompt_ids(messages)
        ids = torch.tensor([prompt], device=self._device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with self._lock, torch.no_grad():
            out = self._model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=None,
                top_k=None,
                pad_token_id=pad,
            )
        new = out[0, len(prompt) :].tolist()
        text = str(self.tokenizer.decode(new, skip_special_tokens=True))
        return Completion(text=text, prompt_tokens=len(prompt), completion_tokens=len(new))

    def count_tokens(self, text: str) -> int:
        """Exact: the model's own tokenizer."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def score_labels(self, messages: Sequence[Message], labels: Sequence[str]) -> dict[str, float]:
        """Sum of the log-probabilities of each label's tokens after the prompt."""
        torch = self._torch
        prompt = self._prompt_ids(messages)
        scores: dict[str, float] = {}
        with self._lock, torch.no_grad():
            for label in labels:
                cont = self.tokenizer(label, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([prompt + cont], device=self._device)
                logprobs = torch.log_softmax(self._model(ids).logits[0].float(), dim=-1)
                positions = range(len(prompt) - 1, len(prompt) + len(cont) - 1)
                scores[label] = float(sum(logprobs[p, t] for p, t in zip(positions, cont, strict=True)))
        return scores
