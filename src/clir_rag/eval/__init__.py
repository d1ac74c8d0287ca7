"""Evaluation: test collections and trec_eval-compatible metrics (ir_measures)."""

from clir_rag.eval.metrics import evaluate, ranking_to_run
from clir_rag.eval.xquad import XQuADCLIR, default_data_dir, load_xquad

__all__ = ["XQuADCLIR", "default_data_dir", "evaluate", "load_xquad", "ranking_to_run"]
