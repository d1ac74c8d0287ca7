"""Cross-lingual RAG: answer generation over retrieved passages and the answer check.

:class:`AnswerGenerator` answers in the question's language from numbered
passages in any language; :mod:`clir_rag.rag.citations` reads and strips its
``[1]``-style citation markers; :mod:`clir_rag.rag.check` scores answers (EM and
token F1 against gold answers in several languages, response language);
:class:`RagasJudge` (``judge`` extra) adds LLM-judged faithfulness and answer
correctness; :func:`run_rag_check` runs all of it over a collection
(``clir-rag rag-check CONFIG``).
"""

from clir_rag.rag.check import (
    LanguageVerdict,
    MatchScore,
    best_match,
    exact_match,
    normalize_answer,
    response_language,
    token_f1,
)
from clir_rag.rag.citations import citations, strip_citations
from clir_rag.rag.generate import Answer, AnswerGenerator, AnswerStream

__all__ = [
    "Answer",
    "AnswerGenerator",
    "AnswerStream",
    "LanguageVerdict",
    "MatchScore",
    "best_match",
    "citations",
    "exact_match",
    "normalize_answer",
    "response_language",
    "strip_citations",
    "token_f1",
]


def __getattr__(name: str):  # the experiment pulls in the eval harness, the judge pulls in ragas: load on use
    if name in ("RagCheckConfig", "check_answer", "load_rag_config", "run_rag_check", "summarize"):
        from clir_rag.rag import experiment

        return getattr(experiment, name)
    if name in ("RagasJudge", "JudgeScores"):
        from clir_rag.rag import judge

        return getattr(judge, name)
    raise AttributeError(name)
