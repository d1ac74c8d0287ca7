"""clir-rag: cross-lingual retrieval for RAG.

Documents -> passages (:mod:`clir_rag.chunk`) -> embeddings (:mod:`clir_rag.embed`)
-> Chroma + BM25 (:mod:`clir_rag.store`) -> rankings (:mod:`clir_rag.retrieve`).
:class:`CrossLingualIndex` ties these together in one directory.
"""

from clir_rag.corpus import iter_corpus, read_corpus
from clir_rag.errors import ClirRagError, CorpusError, IndexCompatibilityError, InputError, LanguageError
from clir_rag.index import CrossLingualIndex, IndexStats
from clir_rag.languages import detect_language, normalize_language
from clir_rag.types import Document, Passage, Query, Ranking, ScoredCandidate

__version__ = "0.1.0"

__all__ = [
    "ClirRagError",
    "CorpusError",
    "CrossLingualIndex",
    "Document",
    "IndexCompatibilityError",
    "IndexStats",
    "InputError",
    "LanguageError",
    "Passage",
    "Query",
    "Ranking",
    "ScoredCandidate",
    "detect_language",
    "iter_corpus",
    "normalize_language",
    "read_corpus",
]
