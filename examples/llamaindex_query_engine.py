"""A LlamaIndex query engine over documents in 8 languages, queried in English and Swahili.

    python examples/llamaindex_query_engine.py [INDEX_DIR]

Runs offline. With ``Settings.llm`` set to a real LLM, drop ``response_mode``
to get a synthesized answer; here the engine returns the retrieved nodes.
"""

from __future__ import annotations

import sys

from llama_index.core import Settings
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.retrievers.clir_rag import CrossLingualRetriever

from clir_rag.demo import build_demo_index


def main(index_dir: str = "demo-index") -> None:
    build_demo_index(index_dir, progress=False)
    Settings.llm = None
    retriever = CrossLingualRetriever.from_index_dir(index_dir, mode="dense", similarity_top_k=3)
    engine = RetrieverQueryEngine.from_args(retriever, response_mode="no_text")
    for question in [
        "Who discovered the drug artemisinin against malaria?",
        "Mlima mrefu zaidi barani Afrika una urefu gani?",
    ]:
        response = engine.query(question)
        print(f"\n{question}")
        for n in response.source_nodes:
            meta = n.node.metadata
            print(f"  {n.score:.4f}  [{meta['lang']}] {meta['doc_id']}: {n.node.get_content()[:70]}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
