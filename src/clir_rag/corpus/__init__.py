"""Reading corpora from disk into validated :class:`~clir_rag.types.Document` objects."""

from clir_rag.corpus.reader import Corpus, iter_corpus, read_corpus

__all__ = ["Corpus", "iter_corpus", "read_corpus"]
