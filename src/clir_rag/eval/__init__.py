"""Evaluation: test collections and trec_eval-compatible metrics (ir_measures)."""

from typing import Any

from clir_rag.deprecation import renamed
from clir_rag.eval.ciral import CIRAL_LANGUAGES, load_ciral
from clir_rag.eval.clef import CLEF_PAIRS, load_clef
from clir_rag.eval.collection import Collection
from clir_rag.eval.generic import load_beir, load_generic
from clir_rag.eval.metrics import DEFAULT_MEASURES, evaluate, ordered_run, paired_ttest, ranking_to_run
from clir_rag.eval.oracle import oracle_ranked, share_of_oracle_gain
from clir_rag.eval.trec import read_qrels, read_queries, read_run, read_trec_topics, write_run
from clir_rag.eval.xquad import XQUAD_LANGUAGES, XQuADCLIR, default_data_dir, load_xquad

__all__ = [
    "CIRAL_LANGUAGES",
    "CLEF_PAIRS",
    "DEFAULT_MEASURES",
    "XQUAD_LANGUAGES",
    "Collection",
    "XQuADCLIR",
    "default_data_dir",
    "evaluate",
    "load_beir",
    "load_ciral",
    "load_clef",
    "load_generic",
    "load_xquad",
    "oracle_ranked",
    "ordered_run",
    "paired_ttest",
    "ranking_to_run",
    "read_qrels",
    "read_queries",
    "read_run",
    "read_trec_topics",
    "share_of_oracle_gain",
    "write_run",
]


_RENAMED = {"pri": "clir_rag.eval.oracle.share_of_oracle_gain"}  # the name before 0.2, kept for one release


def __getattr__(name: str) -> Any:
    return renamed(__name__, name, _RENAMED)
