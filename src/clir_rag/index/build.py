"""Index a corpus on disk, through a translation into one language first if asked (BM25-DT).

What ``clir-rag index`` does, as one function that the command and Python callers share:
check the corpus, open (or create) the index, translate the corpus into the index directory
when ``translate_to`` is given, and add the documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from clir_rag.errors import InputError
from clir_rag.types import Document

if TYPE_CHECKING:
    from clir_rag.chunk import PassageUnit
    from clir_rag.embed.base import PassageEmbedder
    from clir_rag.index.writer import AddReport
    from clir_rag.manifest import TitleFormat
    from clir_rag.translate.corpus import CorpusTranslationStats, CorpusTranslator


def translated_corpus_path(index_dir: str | Path, lang: str) -> Path:
    """Where :func:`index_corpus` writes a corpus translated into ``lang``: ``translated.<lang>.jsonl`` in the index."""
    return Path(index_dir) / f"translated.{lang}.jsonl"


def index_corpus(
    corpus: str | Path,
    index_dir: str | Path,
    *,
    lang: str | None = None,
    encoder: str | None = None,
    max_tokens: int | None = None,
    overlap: int | None = None,
    passage_unit: PassageUnit | None = None,
    title_format: TitleFormat | None = None,
    chroma_url: str | None = None,
    collection: str | None = None,
    batch_size: int = 32,
    rebuild: bool = False,
    wait: float | None = 0.0,
    translate_to: str | None = None,
    make_translator: Callable[[], CorpusTranslator] | None = None,
    make_embedder: Callable[[str], PassageEmbedder] | None = None,
    on_translated: Callable[[CorpusTranslationStats, Path], None] | None = None,
    progress: bool = True,
) -> AddReport:
    """Index the corpus at ``corpus`` (JSONL or a folder of ``.txt``) into ``index_dir``; resumable.

    The corpus is read afresh on each pass (checked, then indexed shard by shard), so a large one
    is never held whole; ``lang`` is the language of records that carry none (else detected, and
    a record whose language cannot be told is an error naming its file and line). The index
    options are :class:`~clir_rag.index.CrossLingualIndex`'s; ``rebuild`` drops the stored
    passages and BM25 first (a lost or damaged store); ``wait`` is how long to wait for another
    writer (0: fail at once; None: as long as it takes).

    ``translate_to`` (BM25-DT) translates the corpus first into
    :func:`translated_corpus_path` inside the index, resumably, and indexes the translation;
    ``make_translator`` makes the translator (a CTranslate2 model, or one on Ray). It and
    ``make_embedder`` (given the index's encoder spec, it makes a
    :class:`~clir_rag.embed.base.PassageEmbedder`, e.g. :class:`clir_rag.scale.RayEmbedder`)
    are called only once the corpus was found non-empty and the index opened, so a bad index
    never loads a model. Every language pair is checked before anything is translated.
    ``on_translated(stats, path)`` hears when the translation is written, before indexing starts.

    Returns what :meth:`~clir_rag.index.CrossLingualIndex.add` did. Raises
    :class:`~clir_rag.errors.InputError` for an empty corpus, or ``translate_to`` without
    ``make_translator``; the errors of reading, opening, translating and adding pass through.
    """
    from clir_rag.corpus import Corpus
    from clir_rag.index import CrossLingualIndex

    if translate_to and make_translator is None:
        raise InputError("translate_to needs make_translator (a CTranslate2 model, say)")
    docs: Iterable[Document] = Corpus(Path(corpus), lang=lang, detect=True)
    if next(iter(docs), None) is None:
        raise InputError(f"{corpus}: no documents to index")
    idx = CrossLingualIndex(
        index_dir,
        encoder=encoder,
        max_tokens=max_tokens,
        overlap=overlap,
        passage_unit=passage_unit,
        chroma_url=chroma_url,
        collection=collection,
        title_format=title_format,
        wait=wait,
    )
    if rebuild:
        idx.reset()
    if translate_to and make_translator is not None:
        from clir_rag.translate.corpus import translate_corpus

        translator = make_translator()
        for source in sorted({d.lang for d in docs if d.lang} - {translate_to}):
            translator.check_languages(source, translate_to)  # every pair, before anything is written
        idx.create()  # the translations go into the index directory: make it an index first
        translated = translated_corpus_path(index_dir, translate_to)
        tstats = translate_corpus(docs, translator, translate_to, translated, progress=progress, wait=wait)
        if on_translated is not None:
            on_translated(tstats, translated)
        docs = Corpus(translated)
    embedder = make_embedder(idx.manifest.encoder) if make_embedder is not None else None
    return idx.add(docs, batch_size=batch_size, progress=progress, embedder=embedder)
