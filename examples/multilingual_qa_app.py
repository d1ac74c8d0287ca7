"""A small multilingual question-answering app to start from: ask in any language, answers from any language.

    python examples/multilingual_qa_app.py                      # interactive, demo corpus
    python examples/multilingual_qa_app.py --ask "Wie hoch ist der Kilimandscharo?"
    python examples/multilingual_qa_app.py --corpus my_docs.jsonl --index my-index --rerank

It uses the plain clir-rag API, no framework: a ``CrossLingualIndex`` over a
corpus (JSONL ``id``/``text``/``lang`` or a folder of ``.txt``; default the
bundled demo corpus in 8 languages), hybrid or dense retrieval, an optional
listwise LLM reranker, and ``AnswerGenerator``, which answers in the
question's language and cites passages. Each answer is printed with its
sources and a language check, the two things a multilingual QA team watches
first. Runs offline on the embedded models; ``--base-url``/``--model`` use
any OpenAI-compatible server instead. Indexing is resumable: a second start
reuses the index.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from clir_rag.corpus import read_corpus
from clir_rag.demo import demo_corpus_path
from clir_rag.index import CrossLingualIndex
from clir_rag.languages import detect_language
from clir_rag.llm import LLMClient, load_llm
from clir_rag.rag.check import response_language
from clir_rag.rag.citations import citations
from clir_rag.rag.generate import Answer, AnswerGenerator
from clir_rag.rerank import ListwiseReranker
from clir_rag.types import Query


class QAApp:
    """Index once, then answer questions: retrieve, (rerank), generate, check the answer language."""

    def __init__(
        self,
        index_dir: str | Path,
        corpus: str | Path | None = None,
        *,
        mode: str = "dense",
        rerank: bool = False,
        model: str | None = None,
        base_url: str | None = None,
        top_k: int = 3,
    ) -> None:
        self.index = CrossLingualIndex(index_dir)
        self.index.add(read_corpus(corpus or demo_corpus_path()), progress=True)  # skips what is indexed already
        self.retriever = self.index.retriever(mode)
        self.client = LLMClient(load_llm(model, base_url), cache=Path(index_dir) / "qa-llm-cache.sqlite")
        self.reranker = ListwiseReranker(self.client, window=8, step=4, depth=8) if rerank else None
        self.generator = AnswerGenerator(self.client, top_k=top_k)

    def ask(self, question: str) -> Answer:
        query = Query(text=question, lang=detect_language(question))
        ranking = self.retriever.retrieve(query, 8)
        if self.reranker is not None:
            ranking = self.reranker.rerank(ranking, query).ranking
        return self.generator.generate(query, ranking.candidates)


def show(answer: Answer, out: TextIO = sys.stdout) -> None:
    """Print the answer, its language verdict and the numbered sources."""
    if answer.error:
        print(f"(no answer: {answer.error})", file=out)
        return
    verdict = response_language(answer.text, answer.lang)
    check = {True: "ok", False: f"WRONG ({verdict.detected})", None: "too short or unsure to tell"}[verdict.correct]
    print(f"{answer.text}\n  answer language {answer.lang}: {check}", file=out)
    if answer.language_fixed:  # the model answered in another language; this is the translation
        print(f"  (translated from the model's answer: {answer.untranslated})", file=out)
    cited = set(citations(answer.text, len(answer.passages)))
    for i, p in enumerate(answer.passages, start=1):
        mark = "*" if i in cited else " "
        print(f" {mark}[{i}] ({p.lang}) {p.doc_id}: {p.text[:80]}", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="JSONL or folder of .txt (default: the demo corpus)")
    parser.add_argument("--index", default="qa-index", help="index folder (reused between runs)")
    parser.add_argument("--ask", action="append", help="answer this question and exit (repeatable)")
    parser.add_argument("--mode", choices=["dense", "bm25", "hybrid"], default="dense")
    parser.add_argument("--rerank", action="store_true", help="rerank the top 8 with the LLM (slower)")
    parser.add_argument("--model", help="GGUF path, or the server's model name with --base-url")
    parser.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    args = parser.parse_args(argv)
    app = QAApp(args.index, args.corpus, mode=args.mode, rerank=args.rerank, model=args.model, base_url=args.base_url)
    questions = args.ask or iter(lambda: input("\nquestion (empty to quit)> ").strip(), "")
    for question in questions:
        print(f"\nQ: {question}", file=out)
        show(app.ask(question), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
