"""Whether two indexes hold the same passages and retrieve alike, for tests and benchmarks.

Indexing on Ray (or on a Chroma server) must build the same index as one process; the tests assert it,
and ``benchmarks/bench_ray_indexing.py`` reports it, from this one comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clir_rag.index import CrossLingualIndex
from clir_rag.types import Query


def index_contents(index: CrossLingualIndex) -> tuple[list[str], dict[str, str], np.ndarray]:
    """``(sorted passage ids, {id: doc hash}, vectors in the order of those ids)`` of ``index``'s store."""
    ids = sorted(pid for pid, _, _ in index.store.iter_passages())
    got, vectors, _ = index.store.get_vectors(ids)
    # the store returns vectors in its own order, not necessarily that of the ids asked for
    return ids, index.store.stored_hashes(ids), vectors[np.argsort(got)]


def compare_indexes(a: CrossLingualIndex, b: CrossLingualIndex, queries: Sequence[Query]) -> dict[str, Any]:
    """How far ``b`` is the same index as ``a``.

    Keys: ``same_passage_ids``, ``same_hashes``, ``max_vector_diff`` (``None`` when the ids differ),
    ``same_dense_top10`` and ``same_bm25_top10`` (how many of ``queries`` get the same top-10 ids)
    and ``queries`` (how many there were).
    """
    ids_a, hashes_a, vec_a = index_contents(a)
    ids_b, hashes_b, vec_b = index_contents(b)
    same_ids = ids_a == ids_b
    return {
        "same_passage_ids": same_ids,
        "same_hashes": hashes_a == hashes_b,
        "max_vector_diff": float(np.abs(vec_a - vec_b).max()) if same_ids else None,
        "same_dense_top10": sum(a.search(q, 10).ids == b.search(q, 10).ids for q in queries),
        "same_bm25_top10": sum(a.search(q, 10, mode="bm25").ids == b.search(q, 10, mode="bm25").ids for q in queries),
        "queries": len(queries),
    }
