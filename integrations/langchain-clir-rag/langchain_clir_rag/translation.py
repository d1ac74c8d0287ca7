"""``TranslationTransformer``: documents translated into the query's language, originals kept (a LangChain
``BaseDocumentTransformer``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.documents import BaseDocumentTransformer, Document
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from clir_rag.errors import InputError
from clir_rag.languages import detect_language, normalize_language
from clir_rag.translate.base import Translator, translate_into
from langchain_clir_rag._clients import ClientFor

_ADDED = ("original_text", "original_lang", "translated_by", "translation_skipped")


class TranslationTransformer(BaseDocumentTransformer, BaseModel):
    """Translate documents into one language, keeping the originals in their metadata.

    ``translator``: a clir-rag :class:`~clir_rag.translate.base.Translator` (CTranslate2 NMT:
    NLLB, M2M-100, Marian). Or ``llm``: a LangChain chat model (or clir-rag backend) that
    translates sentence by sentence (``LLMTranslator``: an answer that is not a translation
    falls back to the source and is counted). The target is ``target_lang`` (also per call),
    else the language of ``query`` passed per call (detected offline). Documents already in
    the target language pass unchanged; a language the translator cannot produce is left as it
    is with the reason in ``metadata["translation_skipped"]``. A translated document keeps
    ``original_text`` and ``original_lang``, and gets ``lang`` = the target; with
    ``restore_originals=True`` this transformer puts the originals back (after a reranker).

    In an LCEL chain the query comes from the chain's input::

        RunnableLambda(lambda x: transformer.transform_documents(x["docs"], query=x["question"]))
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    translator: Any = None
    llm: Any = None
    target_lang: str | None = Field(None, description="language to translate into (None: the query's)")
    restore_originals: bool = Field(False, description="put original texts back instead of translating")
    _clients: ClientFor = PrivateAttr(default_factory=ClientFor)

    def __init__(self, **data: Any) -> None:
        """Fields as in the class docstring; a transformer that could not translate is refused here."""
        super().__init__(**data)  # checked after pydantic, so the error stays an InputError
        if self.translator is None and self.llm is None and not self.restore_originals:
            raise InputError("TranslationTransformer needs a translator or an llm (or restore_originals=True)")
        if self.translator is not None and not isinstance(self.translator, Translator):
            raise InputError(f"translator must be a clir-rag Translator, got {type(self.translator).__name__}")

    def _translator(self) -> Translator:
        if self.translator is not None:
            return self.translator
        from clir_rag.translate.llm_translator import LLMTranslator

        return LLMTranslator(self._clients.get(self.llm))  # per call; the client (and its cache) is shared

    def _target(self, target_lang: str | None, query: str | None) -> str:
        if target_lang or self.target_lang:
            return normalize_language(target_lang or self.target_lang or "")
        lang = detect_language(query) if query else None
        if lang is None:
            raise InputError("cannot tell which language to translate into: set target_lang or pass query=")
        return lang

    def transform_documents(
        self,
        documents: Sequence[Document],
        *,
        query: str | None = None,
        target_lang: str | None = None,
        **kwargs: Any,
    ) -> Sequence[Document]:
        """``documents`` in the target language (see the class docstring); the input is not modified."""
        if self.restore_originals:
            return [_restore(d) for d in documents]
        if not documents:
            return []
        tgt = self._target(target_lang, query)
        translator = self._translator()
        texts = [d.page_content for d in documents]
        langs = [d.metadata.get("lang") or detect_language(t) or tgt for d, t in zip(documents, texts, strict=True)]
        translated, skipped = translate_into(translator, texts, langs, tgt)
        out = []
        for doc, lang, translation in zip(documents, langs, translated, strict=True):
            if translation is not None:
                meta = {**doc.metadata, "original_text": doc.page_content, "original_lang": lang, "lang": tgt}
                meta["translated_by"] = translator.name
                out.append(Document(id=doc.id, page_content=translation, metadata=meta))
            elif normalize_language(lang) in skipped:
                meta = {**doc.metadata, "translation_skipped": skipped[normalize_language(lang)]}
                out.append(Document(id=doc.id, page_content=doc.page_content, metadata=meta))
            else:
                out.append(doc)
        return out

    async def atransform_documents(
        self,
        documents: Sequence[Document],
        *,
        query: str | None = None,
        target_lang: str | None = None,
        **kwargs: Any,
    ) -> Sequence[Document]:
        """:meth:`transform_documents` in a worker thread (translation is CPU- or network-bound)."""
        return await asyncio.to_thread(
            self.transform_documents, documents, query=query, target_lang=target_lang, **kwargs
        )


def _restore(doc: Document) -> Document:
    if "original_text" not in doc.metadata:
        return doc
    meta = {k: v for k, v in doc.metadata.items() if k not in _ADDED}
    meta["lang"] = doc.metadata.get("original_lang", doc.metadata.get("lang"))
    return Document(id=doc.id, page_content=doc.metadata["original_text"], metadata=meta)
