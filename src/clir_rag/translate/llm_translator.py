"""Translation with an LLM, for setups without an NMT model (one sentence or passage per call)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from clir_rag.cache import SqliteCache
from clir_rag.errors import LLMError
from clir_rag.languages import get_language
from clir_rag.llm.base import LLM, Message
from clir_rag.llm.client import LLMClient
from clir_rag.translate.base import Translator

SYSTEM = "You are a professional translator. You translate faithfully and reply with the translation only."
USER = "Translate the following {src} text into {tgt}. Reply with the {tgt} translation only.\n\n{text}"
_LABEL = re.compile(r"^\s*(translation|traducción|übersetzung|traduction)\s*(\([^)]*\))?\s*:\s*", re.I)


class LLMTranslator(Translator):
    """Prompts an LLM per segment, greedy, stopping at a blank line.

    An answer that fails or comes back empty falls back to the source text (so
    a document is never lost) and is counted in ``failures``.
    """

    def __init__(
        self,
        llm: LLMClient | LLM,
        *,
        cache: SqliteCache | str | Path | None = None,
        sentence_level: bool = True,
        system_prompt: str = SYSTEM,
        user_prompt: str = USER,
    ) -> None:
        super().__init__(cache=cache, sentence_level=sentence_level)
        self.client = llm if isinstance(llm, LLMClient) else LLMClient(llm)
        self.system_prompt, self.user_prompt = system_prompt, user_prompt
        self.name = f"llm:{self.client.llm.backend}:{self.client.llm.model}"
        self.failures = 0
        self.problems: list[str] = []

    def _clean(self, answer: str) -> str:
        text = _LABEL.sub("", answer.strip())
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”«»":
            text = text[1:-1].strip()
        return text

    def translate_segments(self, segments: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translate ``segments`` one call each; a failed call leaves the segment as it was and is counted."""
        src_name, tgt_name = get_language(src).name, get_language(tgt).name
        out = []
        for seg in segments:
            messages: list[Message] = [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": self.user_prompt.format(src=src_name, tgt=tgt_name, text=seg)},
            ]
            budget = 2 * self.client.count_tokens(seg) + 32
            try:
                text = self._clean(self.client.generate(messages, max_tokens=budget, stop=["\n\n"]).text)
            except LLMError as e:
                text, problem = "", str(e)
            else:
                problem = "empty answer"
            if not text:
                self.failures += 1
                if len(self.problems) < 20:
                    self.problems.append(f"{problem}; kept the source: {seg[:50]!r}")
                text = seg
            out.append(text)
        return out
