"""Any sentence-transformers model, by hub id or local path (extra ``[st]``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clir_rag.embed.base import l2_normalize
from clir_rag.errors import InputError, missing_extra


def _default_prefixes(name: str, prompts: dict[str, str] | None = None) -> tuple[str, str]:
    # A model's own prompts come first: a directory written by `clir-rag export-encoder` stores e5's
    # under any name. sentence-transformers 5+ fills in empty "query"/"document" prompts, so only a
    # non-empty query prompt counts as the model stating its prefixes.
    if prompts and prompts.get("query"):
        return prompts["query"], prompts.get("passage") or prompts.get("document") or ""
    # e5 models were trained with these prefixes and lose accuracy without them.
    lowered = name.lower()
    if "e5" in lowered and "mistral" not in lowered:
        return "query: ", "passage: "
    return "", ""


class SentenceTransformerEncoder:
    """A sentence-transformers bi-encoder.

    Prefixes default to the model's prompts ``query`` and ``passage`` (or ``document``) where it has
    a non-empty query prompt, else to e5's for models named e5, else none.
    """

    def __init__(
        self,
        model_name_or_path: str | Path,
        *,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        device: str | None = None,
        batch_size: int = 32,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise missing_extra("the sentence-transformers encoder", "st", e) from e
        name = str(model_name_or_path)
        self._model = SentenceTransformer(name, device=device or "cpu")
        qp, pp = _default_prefixes(name, dict(getattr(self._model, "prompts", None) or {}))
        self.query_prefix = qp if query_prefix is None else query_prefix
        self.passage_prefix = pp if passage_prefix is None else passage_prefix
        self.batch_size = batch_size
        dim = (
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        if dim is None:
            raise InputError(f"{name}: the model does not report its embedding dimension")
        self.dim: int = int(dim)
        self.spec = f"st:{name}"
        # the model reads max_seq_length tokens, its special tokens included; None where it sets no limit
        seq = getattr(self._model, "max_seq_length", None)
        self.max_input_tokens: int | None = int(seq) - 2 if seq else None
        self.model_name = name

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        texts = [prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(texts, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        return l2_normalize(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """See :meth:`Encoder.encode_queries`; ``query_prefix`` is prepended."""
        return self._encode(texts, self.query_prefix)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """See :meth:`Encoder.encode_passages`; ``passage_prefix`` is prepended."""
        return self._encode(texts, self.passage_prefix)

    def count_tokens(self, text: str) -> int:
        """Exact: the model's own tokenizer, without special tokens."""
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])
