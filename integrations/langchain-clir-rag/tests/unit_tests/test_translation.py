"""TranslationTransformer's checks of its arguments, before any model is loaded or called."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")
from langchain_clir_rag import ClirRagChatModel, TranslationTransformer
from langchain_core.documents import Document

from clir_rag.errors import InputError


def test_translation_transformer_needs_a_way_to_translate_and_a_target() -> None:
    with pytest.raises(InputError, match="needs a translator or an llm"):
        TranslationTransformer()
    with pytest.raises(InputError, match="must be a clir-rag Translator"):
        TranslationTransformer(translator="nllb")
    with pytest.raises(InputError, match="cannot tell which language"):
        TranslationTransformer(llm=ClirRagChatModel()).transform_documents([Document(page_content="Hallo Welt.")])
