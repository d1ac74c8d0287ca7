"""What the endpoints share: the index, the LLM and what is built on it, and the work they do (blocking; the
routes run it in worker threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from clir_rag.errors import ClirRagError, IndexCompatibilityError, InputError, LanguageError, LLMError
from clir_rag.languages import language_confidences, normalize_language
from clir_rag.serve.admission import Admission
from clir_rag.serve.schemas import (
    AnswerLangSource,
    AnswerRequest,
    AnswerResponse,
    ComponentHealth,
    DocumentsResponse,
    SearchRequest,
    TranslateRequest,
    TranslateResponse,
)
from clir_rag.serve.settings import ServeSettings
from clir_rag.types import Document, Query, Ranking

if TYPE_CHECKING:  # the parts load on first use: the service starts without the LLM, reranker or translator
    from clir_rag.llm import LLMClient
    from clir_rag.rag.generate import Answer, AnswerGenerator
    from clir_rag.rerank.base import Reranker
    from clir_rag.translate.base import Translator

T = TypeVar("T")


def _language(value: str, field: str) -> str:
    """``value`` normalised; an unknown one is an :class:`InputError` naming the request's ``field``."""
    try:
        return normalize_language(value)
    except LanguageError as e:
        raise InputError(f"{field}: {e}") from None


class Service:
    """What the endpoints share: the index (searched, and written with ``allow_writes``), the LLM, reranker and
    translator (loaded on first use), and the LLM admission queue."""

    def __init__(self, settings: ServeSettings) -> None:
        from clir_rag.index import MANIFEST, CrossLingualIndex

        if not (settings.index / MANIFEST).exists():
            raise IndexCompatibilityError(f"{settings.index} is not an index (no {MANIFEST}): run clir-rag index first")
        self.settings = settings
        # ``wait``: a write waits this long for another process's writer lock (searches never wait for it)
        self.index = CrossLingualIndex(settings.index, wait=settings.write_wait_s)
        self.admission = Admission(settings.workers, settings.queue_size)
        # the parts load on first use, once: two first requests at once must not load a GGUF twice
        self._load = threading.RLock()
        self._parts: dict[str, object] = {}
        self._described: tuple[int | None, list[str]] = (None, [])

    def _part(self, name: str, build: Callable[[], T]) -> T:
        part = self._parts.get(name)
        if part is None:
            with self._load:
                part = self._parts.get(name)
                if part is None:
                    part = self._parts[name] = build()
        return cast(T, part)  # what ``build`` made under this name

    # -- the parts -----------------------------------------------------------------

    def _loaded_client(self) -> LLMClient | None:
        """The LLM client if a request has loaded it (health and shutdown must not load it)."""
        return cast("LLMClient | None", self._parts.get("client"))

    @property
    def client(self) -> LLMClient:
        """The LLM client (the embedded GGUF, a GGUF path, or an OpenAI-compatible server), built on first use."""
        return self._part("client", self._build_client)

    def _build_client(self) -> LLMClient:
        from clir_rag.llm import LLMClient, load_llm

        llm = load_llm(self.settings.llm_model, self.settings.base_url)
        # a total deadline per request, and a breaker that half-opens: an LLM that restarts is found again
        return LLMClient(llm, deadline=self.settings.llm_deadline_s, breaker_cooldown=self.settings.llm_cooldown_s)

    @property
    def generator(self) -> AnswerGenerator:
        """The answer generator over :attr:`client`."""
        from clir_rag.rag.generate import AnswerGenerator

        return self._part("generator", lambda: AnswerGenerator(self.client, top_k=self.settings.top_k))

    @property
    def reranker(self) -> Reranker:
        """The reranker the settings name, over :attr:`client`."""
        from clir_rag.rerank.factory import make_reranker

        method, depth = self.settings.rerank or "listwise", self.settings.rerank_depth
        return self._part("reranker", lambda: make_reranker(method, self.client, depth=depth))

    @property
    def translator(self) -> Translator:
        """CTranslate2 with ``translate_model``, else an LLM translator over :attr:`client`."""
        model = self.settings.translate_model
        if model is not None:
            from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

            return self._part("translator", lambda: CTranslate2Translator(model))
        from clir_rag.translate.llm_translator import LLMTranslator

        # strict: a failed or garbled translation is an error to show, not the source handed back as translated
        return self._part("translator", lambda: LLMTranslator(self.client, sentence_level=False, strict=True))

    # -- searching and answering ----------------------------------------------------

    def search(self, req: SearchRequest) -> Ranking:
        """The top ``k`` passages for the request (languages normalised; unknown ones are an InputError)."""
        langs = [_language(x, "languages") for x in req.languages] if req.languages else None
        query = Query(text=req.query, lang=_language(req.query_lang, "query_lang") if req.query_lang else None)
        # no lock: the index answers from its last committed state while a write runs (clir_rag.index.reader)
        return self.index.search(query, req.k, mode=req.mode, langs=langs, debias=req.debias)

    def candidates(self, req: AnswerRequest) -> tuple[Ranking, bool]:
        """The passages an answer is made from: retrieved, then reranked when the service reranks."""
        ranking = self.search(req)
        if self.settings.rerank is None or len(ranking.candidates) < 2:
            return ranking, False
        return self.reranker.rerank(ranking).ranking, True

    def answer_language(self, req: AnswerRequest) -> tuple[str, AnswerLangSource]:
        """The language to answer in, and why: ``query_lang``; else the query's, when lingua is sure of it; else
        ``client_lang`` (when known); else the language most of the index's passages are in."""
        if req.query_lang:
            return _language(req.query_lang, "query_lang"), "query_lang"
        guesses = language_confidences(req.query, top=1)
        if guesses and guesses[0][1] >= self.settings.min_lang_confidence:
            return guesses[0][0], "detected"
        if req.client_lang:
            try:
                return normalize_language(req.client_lang), "client"
            except LanguageError:  # a hint from the browser, not an order: an unknown tag is passed over
                pass
        dominant = self.dominant_language()
        if dominant is not None:
            return dominant, "index"
        if guesses:
            return guesses[0][0], "detected"
        raise InputError("query_lang: the query's language cannot be told; give query_lang")

    def dominant_language(self) -> str | None:
        """The language most of the index's passages are in (None for an empty index or unreadable statistics)."""
        try:
            counts = {lang: m.count for lang, m in self.index.language_stats.passages.items()}
        except ClirRagError:
            return None
        return max(sorted(counts), key=lambda lang: counts[lang]) if counts else None

    def for_answer(self, ranking: Ranking, lang: str) -> Query:
        """The query the generator answers: ``ranking``'s, in the chosen answer language."""
        return ranking.query.model_copy(update={"lang": lang})

    def answer(self, ranking: Ranking, reranked: bool, lang: tuple[str, AnswerLangSource]) -> AnswerResponse:
        """An answer from ``ranking``'s passages in ``lang``; raises :class:`LLMError` when the LLM failed."""
        generated = self.generator.generate(self.for_answer(ranking, lang[0]), ranking.candidates)
        return self.response(generated, ranking, reranked, lang[1])

    def response(self, answer: Answer, ranking: Ranking, reranked: bool, source: AnswerLangSource) -> AnswerResponse:
        """``answer`` as the endpoints return it; raises :class:`LLMError` when the LLM failed (a 503)."""
        from clir_rag.rag.citations import citations

        if answer.llm_failed:
            raise LLMError((answer.error or "the LLM failed").removeprefix("LLM call failed: "))
        return AnswerResponse(
            query=ranking.query,
            text=answer.text,
            lang=answer.lang,
            answer_lang=answer.lang,
            answer_lang_source=source,
            citations=citations(answer.text, len(answer.passages)),
            passages=answer.passages,
            reranked=reranked,
            error=answer.error,
            wrong_language=answer.wrong_language,
            language_fixed=answer.language_fixed,
        )

    def translate(self, req: TranslateRequest) -> TranslateResponse:
        """One passage translated."""
        src, tgt = _language(req.source_lang, "source_lang"), _language(req.target_lang, "target_lang")
        text = self.translator.translate([req.text], src, tgt)[0]
        return TranslateResponse(text=text, source_lang=src, target_lang=tgt, translator=self.translator.name)

    # -- writing ----------------------------------------------------------------------

    def add_documents(self, documents: list[Document]) -> DocumentsResponse:
        """Index ``documents`` (checked already; unchanged ones cost nothing, changed ones replace theirs) under
        the index's writer lock; searches meanwhile answer from the state before, then from the new one."""
        stats = self.index.add(documents, progress=False)
        return DocumentsResponse(
            documents=stats.documents,
            passages=stats.passages,
            embedded=stats.embedded,
            skipped=stats.skipped,
            removed=stats.removed,
        )

    def delete_document(self, doc_id: str) -> int:
        """Remove a document's passages; the number removed (0: no such document)."""
        return self.index.delete([doc_id])

    # -- health -------------------------------------------------------------------------

    def health(self) -> dict[str, ComponentHealth]:
        """Index, store and LLM, each ``ok``, ``degraded`` or ``down`` with the reason."""
        components: dict[str, ComponentHealth] = {}
        try:
            found = self.index.health()
        except ClirRagError as e:
            found = {"index": {"status": "down", "reason": str(e)}}
        for name in ("index", "store"):
            part = found.get(name, {"status": "ok", "reason": ""})
            components[name] = ComponentHealth(status=part["status"], reason=part.get("reason", ""))
        components["llm"] = self.llm_health()
        return components

    def close(self) -> None:
        """On shutdown: served-query means written (if the writer lock is free within 1 s), the LLM client closed."""
        try:
            self.index.save_served_query_means(wait=1.0)
        except ClirRagError:
            pass  # they stay unwritten: served queries only refine a running mean
        client = self._loaded_client()
        if client is not None:
            client.close()

    def llm_health(self) -> ComponentHealth:
        """The LLM's state as its client knows it (not loaded yet: ``ok``, since nothing failed)."""
        client = self._loaded_client()
        if client is None:
            return ComponentHealth(status="ok", reason="not loaded yet (the first answer loads it)")
        status, reason = client.health()
        return ComponentHealth(status=status, reason=reason)

    def described(self) -> tuple[int | None, list[str]]:
        """Passages and languages served (None and [] while the store cannot say; what was last seen while a
        write is under way)."""
        try:
            snap = self.index.snapshot()  # the committed state searches answer from, not a write half done
            passages = snap.manifest.passages if snap.manifest.passages is not None else len(self.index)
            self._described = (passages, self.index.bm25.languages)
        except ClirRagError:
            return None, []
        return self._described
