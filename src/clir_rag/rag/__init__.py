"""Cross-lingual RAG: answer generation over retrieved passages and the answer check.

:class:`AnswerGenerator` answers in the question's language from numbered
passages in any language; :mod:`clir_rag.rag.citations` reads and strips its
``[1]``-style citation markers; :mod:`clir_rag.rag.check` scores answers (EM and
token F1 against gold answers in several languages, response language);
:class:`RagasJudge` (``judge`` extra) adds LLM-judged faithfulness and answer
correctness; :func:`run_rag_check` runs all of it over a collection
(``clir-rag rag-check CONFIG``).

Names other than the citation functions load their module on first use, so that reading citations (the
service does, with :mod:`clir_rag.rag.citations`) loads neither the generator, the LLM client, the language
check nor the evaluation harness.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Loaded now: the markers' module is the standard library only. Bound here, the name ``citations`` is the
# function; loaded on first use, the import system would bind it to the submodule of that name instead.
from clir_rag.rag.citations import citations, strip_citations

if TYPE_CHECKING:
    from clir_rag.rag.check import (
        LanguageVerdict,
        MatchScore,
        best_match,
        exact_match,
        normalize_answer,
        response_language,
        token_f1,
    )
    from clir_rag.rag.experiment import (  # noqa: F401  (for type checkers; not in __all__)
        RagCheckConfig,
        check_answer,
        load_rag_config,
        run_rag_check,
        summarize,
    )
    from clir_rag.rag.generate import Answer, AnswerGenerator, AnswerStream
    from clir_rag.rag.judge import JudgeScores, RagasJudge  # noqa: F401  (for type checkers; not in __all__)

# name -> the submodule that defines it
_HOMES = {
    "LanguageVerdict": "check",
    "MatchScore": "check",
    "best_match": "check",
    "exact_match": "check",
    "normalize_answer": "check",
    "response_language": "check",
    "token_f1": "check",
    "Answer": "generate",
    "AnswerGenerator": "generate",
    "AnswerStream": "generate",
    # not in __all__: the experiment pulls in the eval harness, the judge ragas
    "RagCheckConfig": "experiment",
    "check_answer": "experiment",
    "load_rag_config": "experiment",
    "run_rag_check": "experiment",
    "summarize": "experiment",
    "RagasJudge": "judge",
    "JudgeScores": "judge",
}

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


def __getattr__(name: str) -> Any:
    """``name`` from the submodule that defines it, imported now (see the module's docstring)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
