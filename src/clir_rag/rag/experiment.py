"""The cross-lingual RAG check as one command: retrieve, (rerank), answer, check, write JSONL and a table.

``clir-rag rag-check CONFIG`` runs a YAML config (see ``evals/rag-xquad-*.yaml``):
questions of a collection with gold answers (XQuAD: the same question and its
answers in all 12 languages), passages in another language, answers generated
by an LLM backend, then per question:

* ``em`` / ``f1``: the best over the gold answers in every language the
  collection has them in (citations stripped first);
* ``lang_correct``: lingua's verdict on the answer language (None when the
  answer is too short to tell, e.g. a year);
* ``hit``: whether a relevant passage was in the context the model saw;
* optionally ``faithfulness`` / ``answer_correctness`` from a ragas judge.

Nothing fails the run: a question without gold answers, an empty context, a
failed LLM call or a judge that answers garbage is recorded on its line and
counted in the summary, and left out of the mean it could not contribute to
(failed answers score 0 in EM/F1, since no answer is a wrong answer).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clir_rag.config import RagCheckConfig, load_rag_config
from clir_rag.errors import InputError
from clir_rag.eval.datasets import load_collection
from clir_rag.rag.check import best_match, response_language
from clir_rag.rag.citations import citations, strip_citations
from clir_rag.rag.generate import Answer, AnswerGenerator
from clir_rag.types import Query, ScoredCandidate

# load_rag_config and RagCheckConfig are re-exported: they were defined here before clir_rag.config existed
__all__ = [
    "QuestionCheck",
    "RagCheckConfig",
    "check_answer",
    "load_rag_config",
    "output_folder",
    "pick_questions",
    "run_rag_check",
    "summarize",
    "summary_markdown",
]


@dataclass
class QuestionCheck:
    """One line of ``answers.jsonl``."""

    qid: str
    question: str
    query_lang: str
    answer_lang: str
    answer: str
    error: str | None
    cited: list[int]
    context: list[str]  # document ids of passages [1]..[n]
    hit: bool
    em: float | None = None
    f1: float | None = None
    gold_lang: str | None = None
    lang_detected: str | None = None
    lang_correct: bool | None = None
    wrong_language: bool = False  # the generated answer was surely in another language
    language_fixed: bool = False  # ... and was replaced by its translation (``untranslated`` keeps it)
    untranslated: str | None = None
    problems: list[str] = field(default_factory=list)  # counted, not fatal: "no gold answer", judge errors
    judge: dict[str, float | None] = field(default_factory=dict)
    seconds: float = 0.0


def check_answer(
    answer: Answer, golds: dict[str, list[str]] | list[str] | None, relevant: set[str], judge: Any = None
) -> QuestionCheck:
    """Score one answer: correctness against ``golds``, its language, retrieval hit, and the judge's view."""
    q = answer.query
    row = QuestionCheck(
        qid=q.id,
        question=q.text,
        query_lang=q.lang or "",
        answer_lang=answer.lang,
        answer=answer.text,
        error=answer.error,
        cited=citations(answer.text, len(answer.passages)),
        context=[p.doc_id for p in answer.passages],
        hit=any(p.doc_id in relevant for p in answer.passages),
        wrong_language=answer.wrong_language,
        language_fixed=answer.language_fixed,
        untranslated=answer.untranslated,
    )
    if answer.error:
        row.em = row.f1 = 0.0  # no answer is a wrong answer; the error is counted separately
        return row
    text = strip_citations(answer.text, len(answer.passages))
    if not text:
        row.problems.append("answer holds nothing but citations")  # small models answer "[2]"; a wrong answer
    if golds:
        match = best_match(text, golds, lang=answer.lang)
        row.em, row.f1, row.gold_lang = match.em, match.f1, match.gold_lang
    else:
        row.problems.append("no gold answer")
    verdict = response_language(answer.text, answer.lang)
    row.lang_detected, row.lang_correct = verdict.detected, verdict.correct
    if judge is not None:
        reference = _first_gold(golds, answer.lang)
        scores = judge.score(q.text, text, [p.text for p in answer.passages], reference)
        row.judge = dict(scores.values)
        row.problems.extend(f"judge {m}: {err}" for m, err in scores.errors.items())
    return row


def _first_gold(golds: dict[str, list[str]] | list[str] | None, lang: str) -> str | None:
    if not golds:
        return None
    if isinstance(golds, list):
        return golds[0]
    ordered = [golds[lang]] if golds.get(lang) else []
    ordered += [v for k, v in golds.items() if k != lang and v]
    return ordered[0][0] if ordered else None


def summarize(rows: list[QuestionCheck]) -> dict[str, Any]:
    """Aggregates with their denominators, so a mean is never read without knowing what it left out."""
    n = len(rows)
    scored = [r for r in rows if r.f1 is not None]
    answered = [r for r in rows if not r.error]
    determined = [r for r in answered if r.lang_correct is not None]
    errors = Counter(r.error.split(":")[0] for r in rows if r.error)
    problems = Counter(p.split(":")[0] for r in rows for p in r.problems)
    out: dict[str, Any] = {
        "questions": n,
        "answered": len(answered),
        "answer_errors": dict(errors),
        "em": _mean([r.em for r in scored]),
        "f1": _mean([r.f1 for r in scored]),
        "scored": len(scored),
        "language_accuracy": _mean([float(bool(r.lang_correct)) for r in determined]),
        "language_determined": len(determined),
        "language_undetermined": len(answered) - len(determined),
        "retrieval_hit_rate": _mean([float(r.hit) for r in rows]),
        "wrong_language_generated": sum(r.wrong_language for r in rows),
        "language_fixed": sum(r.language_fixed for r in rows),
        "problems": dict(problems),
        "seconds_per_question": _mean([r.seconds for r in rows]),
    }
    metrics = sorted({m for r in rows for m in r.judge})
    for m in metrics:
        values = [r.judge[m] for r in rows if r.judge.get(m) is not None]
        out[m] = _mean(values)
        out[f"{m}_judged"] = len(values)
        out[f"{m}_failed"] = sum(1 for r in rows if m in r.judge and r.judge[m] is None)
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def summary_markdown(name: str, summary: dict[str, Any]) -> str:
    """A two-column table of the summary, with each mean's denominator next to it."""

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    n = summary["questions"]
    lines = [
        f"# {name}",
        "",
        "| measure | value | over |",
        "|---|---|---|",
        f"| answer EM | {fmt(summary['em'])} | {summary['scored']} of {n} questions |",
        f"| answer token F1 | {fmt(summary['f1'])} | {summary['scored']} of {n} questions |",
        f"| response-language accuracy | {fmt(summary['language_accuracy'])} | {summary['language_determined']} "
        f"answers ({summary['language_undetermined']} too short or unsure to tell) |",
        f"| retrieval hit rate (relevant passage in context) | {fmt(summary['retrieval_hit_rate'])} | {n} questions |",
    ]
    for key in summary:
        if key.endswith("_judged"):
            m = key.removesuffix("_judged")
            lines.append(
                f"| {m} (ragas judge) | {fmt(summary[m])} | {summary[key]} judged, {summary[m + '_failed']} failed |"
            )
    lines += [
        "",
        f"Answered: {summary['answered']} of {n}; errors: {summary['answer_errors'] or 'none'}; "
        f"problems: {summary['problems'] or 'none'}; {fmt(summary['seconds_per_question'])} s/question. "
        f"Generated in another language: {summary['wrong_language_generated']} "
        f"({summary['language_fixed']} replaced by a translation, counted above as translated).",
        "",
        "Failed answers score 0 in EM/F1. Language accuracy leaves out answers lingua cannot attribute "
        "(numbers, names). Judge failures are counted, never averaged in.",
    ]
    return "\n".join(lines) + "\n"


def output_folder(cfg: RagCheckConfig) -> Path:
    """Where a RAG check writes its files: the config's ``out``, else ``runs/rag/<name>``."""
    return Path(cfg.out or Path("runs/rag") / cfg.name)


def run_rag_check(
    cfg: RagCheckConfig, *, progress: bool = True, llm: Any = None, judge: Any = None
) -> tuple[list[QuestionCheck], dict[str, Any]]:
    """Run ``cfg``; write ``answers.jsonl``, ``summary.json`` and ``summary.md`` into its output folder.

    ``llm`` (a backend of :mod:`clir_rag.llm`) replaces ``cfg.llm``; ``judge`` (a :class:`RagasJudge`)
    replaces ``cfg.judge``.
    """
    from clir_rag.index import CrossLingualIndex
    from clir_rag.llm import LLMClient, load_llm
    from clir_rag.progress import progress_reporter
    from clir_rag.retrieve import DocumentRetriever

    out = output_folder(cfg)
    out.mkdir(parents=True, exist_ok=True)
    collection = load_collection(cfg.dataset, cfg.data)
    queries = pick_questions(collection.queries, cfg.limit, cfg.sample)
    if not queries:
        raise InputError(f"{collection.name}: no questions to check")
    index = CrossLingualIndex(
        # ``work`` holds indexes, as in the eval configs, so the two can share them
        (Path(cfg.work) if cfg.work else out / "indexes") / f"{collection.index_name}-p{cfg.passage_tokens}",
        encoder=cfg.encoder,
        max_tokens=cfg.passage_tokens,
    )
    index.add(collection.documents, progress=progress)
    retriever = DocumentRetriever(index.retriever(cfg.retriever), "maxp")
    docs = {d.id: d for d in collection.documents}

    client = LLMClient(
        llm or load_llm(cfg.llm.model, cfg.llm.base_url), cache=out / cfg.llm.cache if cfg.llm.cache else None
    )
    reranker = None
    if cfg.rerank is not None:
        from clir_rag.rerank.factory import reranker_from_spec

        reranker = reranker_from_spec(cfg.rerank, client)
    generator = AnswerGenerator(
        client,
        answer_lang=cfg.answer_lang,
        top_k=cfg.top_k,
        context_tokens=cfg.context_tokens,
        max_tokens=cfg.max_tokens,
        fix_language=cfg.fix_language,
    )
    if judge is None and cfg.judge is not None:
        from clir_rag.rag.judge import RagasJudge

        j = cfg.judge
        judge = RagasJudge.from_spec(j.model, j.base_url, metrics=j.metrics, timeout=j.timeout, llm=client.llm)

    rows: list[QuestionCheck] = []
    report = progress_reporter(progress, len(queries), f"RAG check {collection.name}")
    with (out / "answers.jsonl").open("w", encoding="utf-8") as fh:
        for i, q in enumerate(queries, start=1):
            t = time.perf_counter()
            ranking = retriever.retrieve(q, cfg.candidates)
            # the model reads whole paragraphs: MaxP picked the document, give it its full text
            cands = [_whole(c, docs) for c in ranking.candidates]
            if reranker is not None:
                ranking = ranking.model_copy(update={"candidates": cands})
                cands = list(reranker.rerank(ranking, q).ranking.candidates)
            answer = generator.generate(q, cands)
            row = check_answer(answer, collection.answers.get(q.id), _relevant(collection.qrels, q), judge)
            row.seconds = time.perf_counter() - t
            rows.append(row)
            fh.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
            fh.flush()  # a long run can be inspected (and its partial output kept) while it goes
            report(i)
    report(None)
    summary = summarize(rows) | {"name": cfg.name, "collection": collection.name, "llm": client.llm.model}
    summary["llm_usage"] = client.usage.as_dict()
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(cfg.name, summary), encoding="utf-8")
    return rows, summary


def pick_questions(queries: list[Query], limit: int | None, sample: str = "first") -> list[Query]:
    """``limit`` questions: the first ones, or (``spread``) evenly spaced over the whole list, in order.

    Collections list questions article by article (XQuAD's first 20 all ask about one Super Bowl
    paragraph set), so a spread sample covers more topics and answer types at the same cost.
    """
    if not limit or limit >= len(queries):
        return list(queries)
    if sample == "first":
        return list(queries[:limit])
    step = len(queries) / limit
    return [queries[int(i * step)] for i in range(limit)]


def _relevant(qrels: dict[str, dict[str, int]], q: Query) -> set[str]:
    return {d for d, r in qrels.get(q.id, {}).items() if r > 0}


def _whole(c: ScoredCandidate, docs: dict[str, Any]) -> ScoredCandidate:
    doc = docs.get(c.doc_id)
    return c.model_copy(update={"text": doc.text, "lang": doc.lang}) if doc is not None else c
