"""Translation with an LLM, for setups without an NMT model (one sentence or passage per call)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from clir_rag.cache import SqliteCache
from clir_rag.errors import LLMError, TranslationOutputError
from clir_rag.languages import get_language, language_confidences
from clir_rag.llm.base import LLM, Message
from clir_rag.llm.client import LLMClient
from clir_rag.translate.base import Translator

# Answers small models give instead of a translation: refusals, offers, and preambles cut off by
# the stop sequence ("The English translation is:").
_REFUSAL = re.compile(
    r"^\W*(i\s*(can'?t|cannot|can not|am unable|'m unable|am sorry|'m sorry|won'?t)|sorry\b|as an ai\b|"
    r"(yes|sure|certainly|of course)[,!.]?\s+(i|here)\b|i can help|i'd be happy|i would be happy)",
    re.I,
)
_PREAMBLE = re.compile(r"\b(translation|translated text|in \w+)\s*(is|would be|reads)?\s*:?\s*$", re.I)
# below this many characters lingua's verdict is a guess (names, numbers): not used to judge an answer
_MIN_JUDGED = 12

SYSTEM = "You are a professional translator. You translate faithfully and reply with the translation only."
USER = "Translate the following {src} text into {tgt}. Reply with the {tgt} translation only.\n\n{text}"
_LABEL = re.compile(r"^\s*(translation|traducción|übersetzung|traduction)\s*(\([^)]*\))?\s*:\s*", re.I)


class LLMTranslator(Translator):
    """Prompts an LLM per segment, greedy, stopping at a blank line.

    An answer that is not a translation falls back to the source text (so a
    document is never lost), is counted in ``failures`` with the reason in
    ``problems``, and is not cached (a rerun asks again). Not a translation:
    a failed call, an empty answer, a refusal or offer ("I can't assist with
    that", "Yes, I can help you with that."), a preamble cut off before the
    translation ("The English translation is:"), the source echoed back, or
    an answer that lingua confidently places in another language than ``tgt``.

    ``strict`` raises instead (the call's :class:`~clir_rag.errors.LLMError`, or
    :class:`~clir_rag.errors.TranslationOutputError`): for one passage someone asked
    to read translated, the source back is no answer.
    """

    def __init__(
        self,
        llm: LLMClient | LLM,
        *,
        cache: SqliteCache | str | Path | None = None,
        sentence_level: bool = True,
        system_prompt: str = SYSTEM,
        user_prompt: str = USER,
        strict: bool = False,
    ) -> None:
        super().__init__(cache=cache, sentence_level=sentence_level)
        self.strict = strict
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
            problem: str | None
            try:
                text = self._clean(self.client.generate(messages, max_tokens=budget, stop=["\n\n"]).text)
            except LLMError as e:
                if self.strict:
                    raise
                text, problem = "", str(e)
            else:
                problem = not_a_translation(seg, text, src, tgt)
            if problem is not None and self.strict:
                raise TranslationOutputError(f"{self.name}: no {tgt} translation: {problem}")
            if problem is not None:
                self.failures += 1
                self._failed.add(seg)
                if len(self.problems) < 20:
                    self.problems.append(f"{problem}; kept the source: {seg[:50]!r}")
                text = seg
            out.append(text)
        return out


def not_a_translation(source: str, answer: str, src: str, tgt: str) -> str | None:
    """Why ``answer`` is not a ``tgt`` translation of ``source``, or None when it may well be one."""
    if not answer.strip():
        return "empty answer"
    if _REFUSAL.match(answer):
        return f"a refusal or offer, not a translation: {answer[:40]!r}"
    if _PREAMBLE.search(answer) and len(answer) < 2 * len(source) and answer.rstrip().endswith(":"):
        return f"a preamble without the translation: {answer[:40]!r}"
    if src != tgt and " ".join(answer.split()).casefold() == " ".join(source.split()).casefold():
        if sum(ch.isalpha() for ch in source) >= _MIN_JUDGED:  # a name or a number translates to itself
            return "the source echoed back"
    if len(answer) >= _MIN_JUDGED:
        ranked = language_confidences(answer, top=1)
        if ranked and ranked[0][0] != tgt and ranked[0][1] >= 0.6:
            return f"the answer is in {ranked[0][0]}, not {tgt}"
    return None
