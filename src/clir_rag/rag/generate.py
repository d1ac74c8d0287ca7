"""Answer generation: a question, numbered passages in any language, an answer in the user's language.

The answer language defaults to the question's (given on the :class:`Query`,
else detected), because cross-lingual RAG studies find models drift into the
passages' language; the prompt names the language in English and says that
the passages may be in others. Passages are numbered ``[1]..[n]`` in ranking
order and the model is asked to cite them, so the check can see which
passages an answer leaned on.

The context is cut to a token budget (counted with the model's tokenizer),
passage by passage: a passage that does not fit whole is shortened only when
it is the first one, so a long top passage never leaves the model with no
context at all. What was left out is counted on the :class:`Answer`.

Failures never raise out of a batch: an empty context or a failed LLM call
gives an :class:`Answer` with ``error`` set and no text, which the check
counts instead of scoring.

Small models drift into the passages' language anyway (measured on XQuAD:
about a quarter of the attributable answers). With ``fix_language`` (the
default), an answer that lingua is sure is in another language is translated
into the right one (by ``translator``; default: the same LLM, prompted as a
translator) and the translation is kept only if it is no longer in the wrong
language; citation markers are carried over. Translating beat asking the
model again in a follow-up turn: on 40 XQuAD questions it fixed 4 of 8
wrong-language answers of the embedded 0.5B model, the re-ask 1 of 8
(``evals/README.md``). Both outcomes are recorded on the :class:`Answer`.
The check runs lingua on every answer, so the first answer of a process also
pays lingua's one-time load (seconds); ``fix_language=False`` skips it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field

from clir_rag.errors import ClirRagError, InputError, LLMError
from clir_rag.languages import detect_language, get_language, normalize_language
from clir_rag.llm import LLM, LLMClient, Message, Usage
from clir_rag.rag.check import response_language
from clir_rag.rag.citations import citations, strip_citations
from clir_rag.translate.base import Translator
from clir_rag.types import Query, ScoredCandidate

SYSTEM_PROMPT = (
    "You answer questions from the passages you are given, which may be in other languages than the question. "
    "Always answer in {language}. After the answer, cite the passage number in square brackets."
)


@dataclass
class Answer:
    """One generated answer, with the numbered context it was generated from.

    ``passages[i]`` is passage ``[i + 1]`` in the prompt (shortened where ``shortened``
    says so). ``error`` is set, and ``text`` empty, when no answer could be generated.
    """

    query: Query
    text: str
    lang: str
    passages: list[ScoredCandidate]
    left_out: int = 0  # candidates that did not fit the context budget
    shortened: bool = False  # the first passage was cut to fit
    error: str | None = None
    llm_failed: bool = False  # ``error`` is the LLM's (unreachable, timed out), not the context's
    usage: Usage = field(default_factory=Usage)
    wrong_language: bool = False  # the generated answer was surely in another language
    language_fixed: bool = False  # ... and its translation into ``lang`` replaced it
    untranslated: str | None = None  # the generated text, when a translation replaced it


class AnswerStream:
    """An answer while it is generated: iterate it for the text's pieces, then read :attr:`answer`.

    ``answer`` is None until the iteration has ended (a reader that stops early gets none).
    """

    def __init__(self, run: Generator[str, None, Answer]) -> None:
        self._run = run
        self._read = False
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        """The pieces of the answer's text, as the model writes them (once: the model is not asked again)."""
        if self._read:
            raise RuntimeError("an AnswerStream can be read once")
        self._read = True
        self.answer = yield from self._run


def language_name(code: str) -> str:
    """English name of a language for prompts (``de`` -> ``German``); the code itself when unknown."""
    try:
        return get_language(code).name
    except Exception:  # an unknown code still works in a prompt, just less well
        return code


def answer_messages(question: str, passages: Sequence[str], lang: str) -> list[Message]:
    """The chat prompt: instructions, numbered passages, the question, and the answer language once more.

    Passages read ``Passage 1: ...`` rather than ``[1] ...``: with the bracketed form small models
    answer with a bare ``[1]``. A short prompt with the answer language last worked best for the
    embedded 0.5B model (measurements in ``evals/README.md``, "Cross-lingual RAG check").
    """
    name = language_name(lang)
    numbered = "\n\n".join(f"Passage {i}: {p.strip()}" for i, p in enumerate(passages, start=1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(language=name)},
        {"role": "user", "content": f"{numbered}\n\nQuestion: {question.strip()}\nAnswer ({name}):"},
    ]


class AnswerGenerator:
    """Generate cited answers in the query's (or a fixed) language over ranked candidates.

    ``llm`` is any backend of :mod:`clir_rag.llm` or an :class:`LLMClient` (for caching,
    retries and timeouts; a bare backend is wrapped in one without a cache).
    ``answer_lang`` fixes the answer language; None answers in the query's language.
    ``top_k`` passages at most go into a context of at most ``context_tokens`` tokens.
    ``fix_language`` translates an answer that is surely in another language, with ``translator``
    (any :class:`~clir_rag.translate.Translator`; default an LLM translator over ``llm``).
    """

    def __init__(
        self,
        llm: LLM | LLMClient,
        *,
        answer_lang: str | None = None,
        top_k: int = 5,
        context_tokens: int = 1536,
        max_tokens: int = 96,
        fix_language: bool = True,
        translator: Translator | None = None,
    ) -> None:
        if top_k < 1 or context_tokens < 64 or max_tokens < 1:
            raise InputError("top_k and max_tokens must be >= 1 and context_tokens >= 64")
        self.client = llm if isinstance(llm, LLMClient) else LLMClient(llm)
        self.answer_lang = normalize_language(answer_lang) if answer_lang else None
        self.top_k = top_k
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.fix_language = fix_language
        self._translator = translator

    def target_language(self, query: Query) -> str:
        """The language to answer in; raises ValueError when it cannot be told."""
        lang = self.answer_lang or query.lang or detect_language(query.text)
        if lang is None:
            raise InputError(f"cannot tell the language of query {query.id!r}: give Query(lang=...) or answer_lang")
        return normalize_language(lang)

    def build(self, query: Query, candidates: Sequence[ScoredCandidate]) -> tuple[list[ScoredCandidate], int, bool]:
        """(passages that fit the budget, how many candidates were left out, whether the first was shortened)."""
        pool = [c for c in candidates if c.text.strip()]
        chosen: list[ScoredCandidate] = []
        lang = self.target_language(query)
        used = self.client.count_tokens("".join(m["content"] for m in answer_messages(query.text, [], lang)))
        shortened = False
        for cand in pool[: self.top_k]:
            cost = self.client.count_tokens(cand.text) + 6  # "Passage n: " and the blank line between passages
            if used + cost <= self.context_tokens:
                chosen.append(cand)
                used += cost
                continue
            if not chosen:
                text = self._shorten(cand.text, self.context_tokens - used - 6)
                if text:
                    chosen.append(cand.model_copy(update={"text": text}))
                    shortened = True
            break
        return chosen, len(candidates) - len(chosen), shortened

    def _shorten(self, text: str, budget: int) -> str:
        """The longest prefix (cut at a word boundary) of ``text`` within ``budget`` tokens."""
        if budget <= 0:
            return ""
        lo, hi = 0, len(text)
        while lo < hi:  # binary search over characters: token counts grow with the prefix
            mid = (lo + hi + 1) // 2
            if self.client.count_tokens(text[:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cut = text[:lo]
        space = cut.rfind(" ")
        return (cut[:space] if space > len(cut) // 2 else cut).rstrip()

    def generate(self, query: Query | str, candidates: Sequence[ScoredCandidate]) -> Answer:
        """Answer ``query`` from ``candidates`` (best first); never raises for a bad context or a failed call."""
        run = self._run(query, candidates, streaming=False)
        while True:
            try:
                next(run)
            except StopIteration as done:
                return done.value

    def stream(self, query: Query | str, candidates: Sequence[ScoredCandidate]) -> AnswerStream:
        """:meth:`generate`, handing out the answer's text as the model writes it.

        Iterate the returned :class:`AnswerStream` for the pieces; then its ``answer`` is
        the :class:`Answer` :meth:`generate` would give. That answer's text can differ from
        the pieces: a wrong-language answer is replaced by its translation, and a call that
        breaks midway leaves an error and no text.
        """
        return AnswerStream(self._run(query, candidates, streaming=True))

    def _run(
        self, query: Query | str, candidates: Sequence[ScoredCandidate], *, streaming: bool
    ) -> Generator[str, None, Answer]:
        q = query if isinstance(query, Query) else Query(text=query)
        lang = self.target_language(q)
        passages, left_out, shortened = self.build(q, candidates)
        answer = Answer(q, "", lang, passages, left_out, shortened)
        if not passages:
            answer.error = "empty context: no candidate passage with text"
            return answer
        messages = answer_messages(q.text, [p.text for p in passages], lang)
        pieces: list[str] = []
        try:
            if streaming:
                for piece in self.client.stream(messages, max_tokens=self.max_tokens, usage=answer.usage):
                    pieces.append(piece)
                    yield piece
            else:
                pieces.append(self.client.generate(messages, max_tokens=self.max_tokens, usage=answer.usage).text)
        except LLMError as e:
            answer.error, answer.llm_failed = f"LLM call failed: {e}", True
            return answer
        answer.text = "".join(pieces).strip()
        if not answer.text:
            answer.error = "the LLM returned an empty answer"
        elif self.fix_language:
            self._fix_language(answer)
        return answer

    @property
    def translator(self) -> Translator:
        """What translates wrong-language answers; an LLM translator over this generator's client by default."""
        if self._translator is None:
            from clir_rag.translate.llm_translator import LLMTranslator

            self._translator = LLMTranslator(self.client, sentence_level=False)
        return self._translator

    def _fix_language(self, answer: Answer) -> None:
        """Translate an answer that is surely in another language; keep the translation if it is not."""
        verdict = response_language(answer.text, answer.lang)
        if verdict.correct is not False or verdict.detected is None:  # right, or unsure to tell: nothing to fix
            return
        answer.wrong_language = True
        n = len(answer.passages)
        body = strip_citations(answer.text, n)
        try:
            translated = self.translator.translate([body], verdict.detected, answer.lang)[0].strip()
        except ClirRagError:  # a language the translator lacks, a failed call: the answer stands, counted
            return
        if not translated or response_language(translated, answer.lang).correct is False:
            return
        marks = "".join(f"[{c}]" for c in citations(answer.text, n))
        answer.untranslated = answer.text
        answer.text = f"{translated} {marks}" if marks else translated
        answer.language_fixed = True

    def generate_many(
        self, items: Sequence[tuple[Query, Sequence[ScoredCandidate]]], *, progress: bool = False
    ) -> list[Answer]:
        """Answers for several queries, in order, with a progress bar on long batches."""
        from clir_rag.progress import progress_reporter

        report = progress_reporter(progress, len(items), "Generating answers")
        answers = []
        for i, (q, cands) in enumerate(items, start=1):
            answers.append(self.generate(q, cands))
            report(i)
        report(None)
        return answers
