"""Bilingual lexicons for artificial code-switching: read, write, induce and score them.

A :class:`Lexicon` maps source-language words to their translations, best first. It is read
from and written to the MUSE format (Conneau et al. 2018: ``source target`` per line, one pair
per line, a source word may have several lines), built from parallel titles
(:func:`from_parallel_titles`), or induced from an encoder's embeddings of two word lists
(:func:`induce_lexicon`): mutual nearest neighbours under CSLS, which discounts "hub" words
that are close to everything. :func:`precision_at_1` scores an induced lexicon against a
held-out slice of a given one.

One module per job: :mod:`~clir_rag.train.lexicon.words` (what a word is, vocabularies of
texts), :mod:`~clir_rag.train.lexicon.base` (the type and MUSE files),
:mod:`~clir_rag.train.lexicon.induction` (CSLS induction), :mod:`~clir_rag.train.lexicon.titles`
(parallel titles), :mod:`~clir_rag.train.lexicon.scoring` (precision@1).
"""

from clir_rag.train.lexicon.base import Lexicon, read_muse
from clir_rag.train.lexicon.induction import (
    CslsNeighbours,
    csls_neighbours,
    embed_words,
    induce_from_vectors,
    induce_lexicon,
)
from clir_rag.train.lexicon.scoring import LexiconScore, precision_at_1
from clir_rag.train.lexicon.titles import from_parallel_titles
from clir_rag.train.lexicon.words import normalize_word, vocabulary, word_counts, word_pattern

__all__ = [
    "CslsNeighbours",
    "Lexicon",
    "LexiconScore",
    "csls_neighbours",
    "embed_words",
    "from_parallel_titles",
    "induce_from_vectors",
    "induce_lexicon",
    "normalize_word",
    "precision_at_1",
    "read_muse",
    "vocabulary",
    "word_counts",
    "word_pattern",
]
