"""Exceptions raised by clir-rag.

Every error about user input names the record or file it is about, so a user
fixing a 100k-line corpus knows where to look.
"""

from __future__ import annotations

__all__ = [
    "ClirRagError",
    "CorpusError",
    "ExtraNotInstalledError",
    "IndexCompatibilityError",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexReadOnlyError",
    "IndexStatsError",
    "IndexWriteError",
    "InputError",
    "JudgeOutputError",
    "LLMError",
    "LLMTimeoutError",
    "LLMTransientError",
    "LLMUnavailableError",
    "LanguageError",
    "StoreUnavailableError",
    "TranslationModelError",
    "TranslationOutputError",
    "UnsupportedLanguageError",
]


class ClirRagError(Exception):
    """Base class of every error raised on purpose by clir-rag."""


class InputError(ClirRagError, ValueError):
    """A document, query or corpus record is not usable as given."""


class LanguageError(InputError):
    """A language code that clir-rag does not know."""


class CorpusError(InputError):
    """A corpus file or record that cannot be read; the message names file and line."""


class IndexCompatibilityError(ClirRagError):
    """An index directory built with another encoder, dimension or format."""


class IndexCorruptError(ClirRagError):
    """An index whose files do not agree with its manifest (a deleted or emptied vector store, say)."""


class IndexReadOnlyError(ClirRagError):
    """The index directory cannot be written (it can still be searched)."""


class IndexWriteError(ClirRagError):
    """Writing the index failed (a full disk, a file-size limit); what was written before is kept."""


class IndexLockedError(ClirRagError):
    """Another process is writing the index; one writer at a time."""


class LLMError(ClirRagError):
    """An LLM call failed (after retries, where retrying made sense)."""


class LLMTransientError(LLMError):
    """A failure worth retrying: a timeout, a dropped connection, a 429 or 5xx answer."""


class LLMTimeoutError(LLMTransientError):
    """No answer in time: a hung or overloaded server, or a model slower than the timeout (trips the breaker)."""


class LLMUnavailableError(LLMError):
    """The backend cannot serve at all (server down, model missing): retrying will not help."""


class StoreUnavailableError(ClirRagError):
    """The vector store cannot be reached (a Chroma server that is down or refuses the connection)."""


class TranslationModelError(ClirRagError):
    """A translation model that cannot be used: not a CTranslate2 directory, no tokenizer, unknown family."""


class UnsupportedLanguageError(LanguageError):
    """A language the chosen translation model (family) cannot translate from or into."""


class ExtraNotInstalledError(ClirRagError, ImportError):
    """A feature needs an optional dependency group (an extra) that is not installed; the message names it."""


class IndexStatsError(ClirRagError):
    """An index's language statistics (used by the dense debiasing) are missing, stale or unreadable."""


class JudgeOutputError(LLMError):
    """The judge's reply could not be read as the JSON the metric asked for."""


class TranslationOutputError(LLMError):
    """An LLM's answer was not a translation (a refusal, the source echoed, another language): strict mode only."""


def missing_extra(what: str, extra: str, cause: ImportError | None = None) -> ExtraNotInstalledError:
    """The error for ``what`` needing the extra ``extra`` (``core``: a core dependency that is missing)."""
    if extra == "core":
        fix = "reinstall clir-rag: pip install --force-reinstall clir-rag"
    elif extra in ("st", "train"):  # an unpinned torch pulls the CUDA wheels (GBs)
        fix = f"pip install torch==2.13.0 'clir-rag[{extra}]'"
    else:
        fix = f"pip install 'clir-rag[{extra}]'"
    missing = f" ({cause.name} is not installed)" if cause is not None and cause.name else ""
    return ExtraNotInstalledError(f"{what} needs the [{extra}] extra{missing}: {fix}")


def describe_validation(err: Exception) -> str:
    """A pydantic ``ValidationError`` on one line: ``field: problem; field: problem``."""
    parts = []
    for e in err.errors():  # type: ignore[attr-defined]
        field = ".".join(str(x) for x in e["loc"]) or "record"
        parts.append(f"{field}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
