"""TranslationPostprocessor: translate retrieved nodes into the query language (DT reranking)."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index.postprocessor.clir_rag.events import TranslationEndEvent, TranslationStartEvent

from clir_rag.errors import InputError
from clir_rag.languages import detect_language, normalize_language
from clir_rag.translate.base import Translator, translate_into

dispatcher = get_dispatcher(__name__)

_HIDDEN = ["original_text", "original_lang", "translated_by", "translation_skipped"]


class TranslationPostprocessor(BaseNodePostprocessor):
    """Translate each node into ``target_lang`` (default: the query's language, detected).

    The original text and language go into metadata (hidden from the LLM and
    embedder); nodes already in the target language pass unchanged. With
    ``restore_originals=True`` it does the reverse: put after a reranker, the
    reranked nodes carry their original text again. Each translating call emits a
    :class:`~llama_index.postprocessor.clir_rag.events.TranslationStartEvent` and
    :class:`~llama_index.postprocessor.clir_rag.events.TranslationEndEvent`.
    """

    target_lang: str | None = Field(default=None, description="Language to translate into (None: the query's).")
    restore_originals: bool = Field(default=False, description="Restore original texts instead of translating.")
    _translator: Translator | None = PrivateAttr(default=None)

    def __init__(self, translator: Translator | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if translator is None and not self.restore_originals:
            raise InputError("TranslationPostprocessor needs a translator (or restore_originals=True)")
        self._translator = translator

    @classmethod
    def restore(cls) -> TranslationPostprocessor:
        """The postprocessor that puts original texts back (place it after the reranker)."""
        return cls(restore_originals=True)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "TranslationPostprocessor"

    def _target(self, query_bundle: QueryBundle | None) -> str:
        if self.target_lang:
            return normalize_language(self.target_lang)
        lang = detect_language(query_bundle.query_str) if query_bundle else None
        if lang is None:
            raise InputError("cannot tell the query's language: set target_lang or pass the query")
        return lang

    def _restore(self, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        out = []
        for nw in nodes:
            meta = nw.node.metadata
            if "original_text" not in meta:
                out.append(nw)
                continue
            node = nw.node.model_copy()
            node.set_content(meta["original_text"])
            node.metadata = {k: v for k, v in meta.items() if k not in _HIDDEN}
            node.metadata["lang"] = meta.get("original_lang", meta.get("lang"))
            out.append(NodeWithScore(node=node, score=nw.score))
        return out

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if self.restore_originals:
            return self._restore(nodes)
        assert self._translator is not None
        tgt = self._target(query_bundle)
        dispatcher.event(TranslationStartEvent(nodes=nodes, target_lang=tgt, translator=self._translator.name))
        texts = [nw.node.get_content(metadata_mode=MetadataMode.NONE) for nw in nodes]
        langs = [nw.node.metadata.get("lang") or detect_language(t) or tgt for nw, t in zip(nodes, texts, strict=True)]
        translated, skipped = translate_into(self._translator, texts, langs, tgt)
        out = []
        for nw, text, lang, translation in zip(nodes, texts, langs, translated, strict=True):
            node = nw.node.model_copy()
            if translation is not None:
                node.set_content(translation)
                node.metadata = {
                    **nw.node.metadata,
                    "original_text": text,
                    "original_lang": lang,
                    "lang": tgt,
                    "translated_by": self._translator.name,
                }
            elif normalize_language(lang) in skipped:  # kept as it is, with the reason
                node.metadata = {**nw.node.metadata, "translation_skipped": skipped[normalize_language(lang)]}
            else:  # already in the target language
                out.append(nw)
                continue
            node.excluded_llm_metadata_keys = list({*node.excluded_llm_metadata_keys, *_HIDDEN})
            node.excluded_embed_metadata_keys = list({*node.excluded_embed_metadata_keys, *_HIDDEN})
            out.append(NodeWithScore(node=node, score=nw.score))
        dispatcher.event(TranslationEndEvent(nodes=out, translated=sum(t is not None for t in translated)))
        return out

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        # Translation is CPU- or network-bound work in a backend: keep the event loop free.
        return await asyncio.to_thread(self._postprocess_nodes, nodes, query_bundle)
