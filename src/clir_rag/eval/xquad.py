"""XQuAD as a cross-lingual retrieval collection.

XQuAD's 240 paragraphs and 1,190 questions are parallel across 12 languages:
question ``X`` in any language has the same relevant paragraph in every
language. Queries in language A are run against the paragraphs of language B;
a paragraph's id is ``<B>:<article>-<paragraph>``. ``doc_langs="all"`` pools
the paragraphs of all 12 languages (2,880 documents, 12 relevant per query),
the setting where a retriever must not prefer one language over another.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from clir_rag.errors import CorpusError
from clir_rag.eval.collection import Collection
from clir_rag.languages import normalize_language
from clir_rag.types import Document, Query

XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def default_data_dir() -> Path:
    """``$CLIR_RAG_DATA`` or ``../shared/data`` beside the working directory or this checkout."""
    env = os.environ.get("CLIR_RAG_DATA")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = base.parent / "shared" / "data"
        if candidate.exists():
            return candidate
    return Path.cwd().parent / "shared" / "data"


XQuADCLIR = Collection  # the name this loader's result had before all loaders shared Collection


def _read(path: Path) -> list[dict]:
    if not path.exists():
        raise CorpusError(f"{path}: XQuAD file not found (set CLIR_RAG_DATA or pass the data folder)")
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def xquad_training_pairs(
    lang: str = "en", data_dir: str | Path | None = None, split: str = "even"
) -> list[tuple[str, str, str]]:
    """``(question id, question, its paragraph)`` in ``lang``, for training rankers.

    ``split="even"``: the questions of the even-numbered articles only, the same half that
    ``load_xquad(calibration="half-articles")`` never scores, so a model trained on them is
    evaluated on questions and paragraphs it has not seen; ``"all"``: every question.
    """
    if split not in ("even", "all"):
        raise CorpusError(f"unknown XQuAD training split {split!r}: use 'even' or 'all'")
    folder = Path(data_dir) if data_dir else default_data_dir() / "xquad"
    if (folder / "xquad").is_dir():
        folder = folder / "xquad"
    lang = normalize_language(lang)
    if lang not in XQUAD_LANGUAGES:
        raise CorpusError(f"XQuAD has no {lang} questions (languages: {', '.join(XQUAD_LANGUAGES)})")
    return [
        (qa["id"], qa["question"], para["context"])
        for a, article in enumerate(_read(folder / f"xquad.{lang}.json"))
        if split == "all" or a % 2 == 0
        for para in article["paragraphs"]
        for qa in para["qas"]
    ]


def load_xquad(
    query_lang: str,
    doc_langs: str | list[str],
    data_dir: str | Path | None = None,
    limit: int | None = None,
    calibration: str | None = None,
    parallel_langs: list[str] | str | None = None,
    documents: str = "paragraphs",
    min_words: int = 2000,
    articles: int | None = None,
    titles: bool = False,
) -> Collection:
    """Build the collection; ``limit`` keeps the first n questions (all paragraphs are kept).

    ``doc_langs`` is one language, a list, ``"all"`` (the 12 languages pooled), or ``"scatter"``:
    each paragraph (article) kept in one of the 12 languages, drawn with a fixed seed, so the
    collection is multilingual but holds no translations (one relevant document per question). The name is
    ``xquad-<q>-<d>`` for one document language, ``xquad-<q>-pooled`` for all 12 and
    ``xquad-<q>-<d1>+<d2>..`` for another selection, so results of different settings never share a name.
    :attr:`Collection.corpus` names the documents alone (``xquad-<d>...``): experiments in several
    query languages share one index.

    ``calibration="half-articles"`` splits the questions by article: those of even-numbered articles
    (0, 2, ...; 24 of 48) become :attr:`Collection.calibration_queries` and are never scored, the
    others are the queries (the name gets ``-half``). ``parallel_langs`` (a list or ``"all"``) fills
    :attr:`Collection.parallel_queries` with the same questions in those languages, for measuring
    how much a ranking depends on the language a question is asked in.

    ``documents="articles"`` makes a document-level collection (long documents, for MaxP and
    passage-length studies): one document per article and language, its paragraphs joined in
    article order with blank lines, titled with the article's title (English in every language,
    underscores read as spaces). An article shorter than ``min_words`` English words is repeated
    whole until it reaches them; the number of copies is fixed by the English article, so every
    language's document holds the same copies (XQuAD articles have 354-1,498 English words: with the
    default 2,000, each is 2-6 copies, 2,000-3,000 words). The relevant document of a question is its article
    (the name gets ``-articles``).

    ``titles=True`` gives each paragraph its article's title (as articles always have): titled
    passages, the common RAG corpus, for deciding how titles join text (the name gets ``-titled``).

    ``articles=n`` keeps the first n of the 48 articles (their paragraphs and questions, about five
    paragraphs and 25 questions each): a small collection for quick runs (the name gets ``-a<n>``).
    """
    folder = Path(data_dir) if data_dir else default_data_dir() / "xquad"
    if (folder / "xquad").is_dir():
        folder = folder / "xquad"
    qlang = normalize_language(query_lang)
    scatter = isinstance(doc_langs, str) and doc_langs.strip().lower() == "scatter"
    if isinstance(doc_langs, str) and doc_langs.strip().lower() in ("all", "scatter"):
        doc_langs = list(XQUAD_LANGUAGES)
    requested = [doc_langs] if isinstance(doc_langs, str) else doc_langs
    dlangs = list(dict.fromkeys(normalize_language(x) for x in requested))  # a repeated language would repeat ids
    unknown = [x for x in dlangs if x not in XQUAD_LANGUAGES]
    if unknown:
        raise CorpusError(f"XQuAD has no {', '.join(unknown)} paragraphs (languages: {', '.join(XQUAD_LANGUAGES)})")
    if articles is not None and (isinstance(articles, bool) or not isinstance(articles, int) or articles < 1):
        raise CorpusError(f"XQuAD articles must be a positive number, not {articles!r}")
    if documents not in ("paragraphs", "articles"):
        raise CorpusError(f"unknown XQuAD documents {documents!r}: use 'paragraphs' or 'articles'")
    copies: list[int] = []
    if documents == "articles":
        words = [sum(len(p["context"].split()) for p in art["paragraphs"]) for art in _read(folder / "xquad.en.json")]
        copies = [max(1, -(-min_words // max(w, 1))) for w in words]
    docs: list[Document] = []
    answers: dict[str, dict[str, list[str]]] = {}
    para_of: dict[str, str] = {}
    for lang in dlangs:
        for a, article in enumerate(_read(folder / f"xquad.{lang}.json")[:articles]):
            if documents == "articles":
                text = "\n\n".join(para["context"] for para in article["paragraphs"])
                title = str(article.get("title", "")).replace("_", " ") or None
                docs.append(Document(id=f"{lang}:{a}", text="\n\n".join([text] * copies[a]), lang=lang, title=title))
            for p, para in enumerate(article["paragraphs"]):
                if documents == "paragraphs":
                    title = (str(article.get("title", "")).replace("_", " ") or None) if titles else None
                    docs.append(Document(id=f"{lang}:{a}-{p}", text=para["context"], lang=lang, title=title))
                for qa in para["qas"]:
                    para_of[qa["id"]] = f"{a}-{p}" if documents == "paragraphs" else str(a)
                    answers.setdefault(qa["id"], {})[lang] = [x["text"] for x in qa["answers"]]
    if scatter:
        # one language per paragraph (article), drawn with a fixed seed: a multilingual collection
        # whose documents are not translations of each other
        rng = np.random.default_rng(0)
        units = sorted({d.id.split(":", 1)[1] for d in docs})
        home = {u: str(rng.choice(sorted(XQUAD_LANGUAGES))) for u in units}
        docs = [d for d in docs if d.lang == home[d.id.split(":", 1)[1]]]
    if calibration not in (None, "half-articles"):
        raise CorpusError(f"unknown XQuAD calibration split {calibration!r}: use 'half-articles'")
    queries: list[Query] = []
    calibration_queries: list[Query] = []
    for a, article in enumerate(_read(folder / f"xquad.{qlang}.json")[:articles]):
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                query = Query(id=qa["id"], text=qa["question"], lang=qlang)
                (calibration_queries if calibration and a % 2 == 0 else queries).append(query)
                answers.setdefault(qa["id"], {})[qlang] = [x["text"] for x in qa["answers"]]
    if limit is not None:
        queries = queries[:limit]
    parallel: dict[str, list[Query]] = {}
    if parallel_langs:
        plangs = list(XQUAD_LANGUAGES) if parallel_langs == "all" else [normalize_language(x) for x in parallel_langs]
        wanted = {q.id for q in queries}
        for lang in plangs:
            if lang not in XQUAD_LANGUAGES:
                raise CorpusError(f"XQuAD has no {lang} questions (languages: {', '.join(XQUAD_LANGUAGES)})")
            if lang == qlang:
                continue
            parallel[lang] = [
                Query(id=qa["id"], text=qa["question"], lang=lang)
                for article in _read(folder / f"xquad.{lang}.json")
                for para in article["paragraphs"]
                for qa in para["qas"]
                if qa["id"] in wanted
            ]
    qrels = {q.id: {f"{lang}:{para_of[q.id]}": 1 for lang in dlangs} for q in queries}
    if scatter:
        qrels = {q: {d: 1 for d in rel if d.split(":", 1)[0] == home[d.split(":", 1)[1]]} for q, rel in qrels.items()}
        corpus = "scattered"
    elif len(dlangs) == 1:
        corpus = dlangs[0]
    elif sorted(dlangs) == sorted(XQUAD_LANGUAGES):
        corpus = "pooled"
    else:
        corpus = "+".join(dlangs)
    if articles is not None:
        corpus += f"-a{articles}"
    if titles and documents == "paragraphs":
        corpus += "-titled"
    name = f"xquad-{qlang}-{corpus}"
    if calibration:
        name += "-half"
    if documents == "articles":
        name += "-articles"
        corpus += "-articles" + ("" if min_words == 2000 else f"-w{min_words}")
    return Collection(
        name,
        queries,
        docs,
        qrels,
        qlang,
        dlangs,
        answers,
        calibration_queries=calibration_queries,
        parallel_queries=parallel,
        corpus=f"xquad-{corpus}",
    )
