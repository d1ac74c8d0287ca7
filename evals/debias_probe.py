"""Probe language-bias corrections over a pooled XQuAD index by brute force (numpy, document-level MaxP).

    clir-rag eval evals/xquad-en-pooled-debias.yaml      # builds runs/eval/indexes/xquad-pooled-p256 once
    python evals/debias_probe.py [--index runs/eval/indexes/xquad-pooled-p256] [--langs en,de,zh] [--scatter]

A quick way to try a correction before building it into ``clir_rag.retrieve.debias`` (where it must be
exact on the store path too): every passage is scored in memory, so a variant is a few lines here. The
query mean comes from the calibration half of the questions (even-numbered articles), as in the
packaged configs; the scored half is the rest. ``--scatter`` keeps each paragraph in one random
language (a multilingual collection whose documents are not translations of each other; one relevant
document per question). Prints nDCG@20, MRR@10, R@100 and the largest language
share of the top 20 per variant, and how parallel the collection is (each sampled passage's best
centred cosine with a passage in another language: translations score about .7).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from clir_rag.cache import SqliteCache
from clir_rag.eval import load_xquad
from clir_rag.eval.experiment import QueryVectorCache
from clir_rag.index import CrossLingualIndex

DISC = 1 / np.log2(np.arange(2, 22))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default="runs/eval/indexes/xquad-pooled-p256")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--langs", default="en,de,zh")
    ap.add_argument("--documents", default="paragraphs", choices=["paragraphs", "articles"])
    ap.add_argument("--min-words", type=int, default=2000, help="articles: repeat each to this many words")
    ap.add_argument(
        "--scatter",
        action="store_true",
        help="keep each document in one random language (seed 0): a multilingual collection without translations",
    )
    args = ap.parse_args()
    index = CrossLingualIndex(Path(args.index))
    # the eval harness's query vectors, where it ran first (same encoder, byte for byte)
    encoder = QueryVectorCache(index.encoder, SqliteCache(Path(args.index).parent / "query-vectors.sqlite"))
    m = index.store.matrix()
    if m is None:
        raise SystemExit(f"{args.index}: above the exact-search limit, nothing to probe in memory")
    p, plangs, doc_ids = m.vectors.astype(np.float64), m.langs, m.doc_ids
    if args.scatter:
        rng = np.random.default_rng(0)
        same = np.array([d.split(":", 1)[1] for d in doc_ids])  # XQuAD ids are lang:paragraph
        pick = {b: rng.choice(sorted(set(plangs))) for b in sorted(set(same))}
        keep = np.array([pick[b] == x for b, x in zip(same, plangs, strict=True)])
        p, plangs, doc_ids = p[keep], plangs[keep], doc_ids[keep]
    langs = sorted(set(plangs))
    rows = {x: np.where(plangs == x)[0] for x in langs}
    mu = {x: p[rows[x]].mean(0) for x in langs}
    cov = {x: np.cov(p[rows[x]].T, bias=True) for x in langs}
    order = np.argsort(doc_ids, kind="stable")
    starts = np.r_[0, np.where(doc_ids[order][1:] != doc_ids[order][:-1])[0] + 1]
    docs = doc_ids[order][starts]
    present = set(docs.tolist())
    doc_lang = np.array([d.split(":")[0] for d in docs])
    centred = np.empty_like(p)
    for x in langs:
        c = p[rows[x]] - mu[x]
        centred[rows[x]] = c / np.linalg.norm(c, axis=1, keepdims=True)

    # how parallel the collection is: each sampled passage's best centred cosine with a passage in another
    # language (a translation scores about .7, unrelated text about .2-.3)
    sample = np.random.default_rng(1).choice(len(p), size=min(300, len(p)), replace=False)
    other = plangs[None, :] != plangs[sample][:, None]
    best = np.where(other, centred[sample] @ centred.T, -2.0).max(1)
    print(
        f"best other-language centred cosine of 300 passages: median {np.median(best):.3f}, "
        f"share above 0.5 {(best > 0.5).mean():.2f}"
    )

    def per_language_z(s: np.ndarray, mean: dict, sd: dict) -> np.ndarray:
        out = np.empty_like(s)
        for x in langs:
            out[:, rows[x]] = (s[:, rows[x]] - mean[x][:, None]) / sd[x][:, None]
        return out

    for qlang in args.langs.split(","):
        kw = {"documents": "articles", "min_words": args.min_words} if args.documents == "articles" else {}
        col = load_xquad(qlang, "all", Path(args.data) / "xquad", calibration="half-articles", **kw)
        v = encoder.encode_queries([q.text for q in col.queries]).astype(np.float64)
        cal = encoder.encode_queries([q.text for q in col.calibration_queries]).astype(np.float64)
        u = v - cal.mean(0)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        raw, cen = v @ p.T, u @ centred.T
        variants = {
            "none": raw,
            "center": cen,
            "zscore": per_language_z(
                raw,
                {x: v @ mu[x] for x in langs},
                {x: np.sqrt(np.einsum("qd,de,qe->q", v, cov[x], v)) for x in langs},
            ),
            "zscore of the centred query": per_language_z(
                u @ p.T,
                {x: u @ mu[x] for x in langs},
                {x: np.sqrt(np.einsum("qd,de,qe->q", u, cov[x], u)) for x in langs},
            ),
            "center, then z (empirical)": per_language_z(
                cen,
                {x: cen[:, rows[x]].mean(1) for x in langs},
                {x: cen[:, rows[x]].std(1) for x in langs},
            ),
        }
        cz = variants["center, then z (empirical)"]
        for m_, beta in ((1, 0.5), (5, 0.25)):
            # pseudo-relevance feedback: the query moves toward the centred directions of its top passages
            fb = centred[np.argsort(-cz, axis=1)[:, :m_]].mean(1)
            u2 = u + beta * fb
            u2 /= np.linalg.norm(u2, axis=1, keepdims=True)
            s2 = u2 @ centred.T
            variants[f"center-z, then PRF m={m_} b={beta}"] = per_language_z(
                s2, {x: s2[:, rows[x]].mean(1) for x in langs}, {x: s2[:, rows[x]].std(1) for x in langs}
            )
        print(f"== {col.name}: {len(col.queries)} questions, {len(docs)} documents")
        for name, scores in variants.items():
            doc_scores = np.maximum.reduceat(scores[:, order], starts, axis=1)
            top = np.argsort(-doc_scores, axis=1)[:, :100]
            ndcg, rr, rec, share = [], [], [], {}
            for i, q in enumerate(col.queries):
                rel = {d for d in col.qrels[q.id] if d in present}
                hits = np.array([d in rel for d in docs[top[i]]])
                ndcg.append((hits[:20] * DISC).sum() / DISC[: min(len(rel), 20)].sum())
                first = np.where(hits[:10])[0]
                rr.append(1 / (first[0] + 1) if len(first) else 0.0)
                rec.append(hits.sum() / len(rel))
                for x in doc_lang[top[i][:20]]:
                    share[x] = share.get(x, 0.0) + 1 / 20 / len(col.queries)
            big = max(share, key=share.__getitem__)
            print(
                f"{name:30s} nDCG@20 {np.mean(ndcg):.4f}  MRR@10 {np.mean(rr):.4f}  R@100 {np.mean(rec):.4f}  "
                f"largest share {share[big]:.3f} ({big})"
            )


if __name__ == "__main__":
    main()
