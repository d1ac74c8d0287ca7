"""Instrumentation events of the translation postprocessor (LlamaIndex has no translation event of its own).

A handler subscribed to the root dispatcher (``llama_index.core.instrumentation``) sees them
beside LlamaIndex's own; the rerankers emit LlamaIndex's ``ReRankStartEvent`` and ``ReRankEndEvent``.
"""

from __future__ import annotations

from llama_index.core.instrumentation.events.base import BaseEvent
from llama_index.core.schema import NodeWithScore


class TranslationStartEvent(BaseEvent):
    """Nodes about to be translated into ``target_lang`` by ``translator``."""

    nodes: list[NodeWithScore]
    target_lang: str
    translator: str

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this event under."""
        return "TranslationStartEvent"


class TranslationEndEvent(BaseEvent):
    """The nodes after translation; ``translated`` of them changed (the others were in the target language)."""

    nodes: list[NodeWithScore]
    translated: int

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this event under."""
        return "TranslationEndEvent"
