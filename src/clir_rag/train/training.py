"""Fine-tuning CLIR rankers (``clir-rag train``): a bi-encoder or a cross-encoder, on plain or code-switched data.

Both learn with sentence-transformers' MultipleNegativesRankingLoss: each query against
its positive, its given negatives and the batch's other passages, softmax over the
scores. The bi-encoder scores by cosine of separately encoded texts; the cross-encoder
reads each (query, passage) pair together. Both train with the Hugging Face
trainer underneath, so a run checkpoints every ``save_steps`` and a rerun of the same
config resumes from the last checkpoint instead of starting over.

Everything a run used and produced is in its folder: ``train-data.jsonl`` (the examples
as trained on, code-switched or not, with the originals), ``checkpoints/``, ``model/``
(the result: ``st:<out>/model`` for a bi-encoder, ``clir-rag rerank --method
cross-encoder --model <out>/model`` for a cross-encoder) and ``train-summary.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clir_rag.errors import InputError, missing_extra
from clir_rag.train.codeswitch import SwitchedExample, TrainingExample, code_switch, read_examples, write_examples
from clir_rag.train.lexicon import read_muse

if TYPE_CHECKING:
    from clir_rag.config import TrainConfig

log = logging.getLogger(__name__)

# A cross-encoder learns from negatives only: without given ones, each example gets this many random ones.
DEFAULT_CROSS_ENCODER_NEGATIVES = 3


@dataclass
class TrainResult:
    """What a training run did: where the model is, its steps and losses, what it cost."""

    model_dir: Path
    kind: str
    examples: int
    steps: int
    resumed_from_step: int | None
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss) as logged
    seconds: float = 0.0
    codeswitch: dict[str, Any] | None = None  # coverage counts of the code-switching, when there was any

    def to_json(self) -> dict[str, Any]:
        """Plain values for ``train-summary.json``."""
        out = asdict(self)
        out["model_dir"] = str(self.model_dir)
        return out


def training_examples(cfg: TrainConfig) -> list[TrainingExample]:
    """The config's examples before code-switching, each with ``data.negatives`` random negatives added.

    Raises :class:`~clir_rag.errors.InputError` naming the file and record for a bad record, and
    when a cross-encoder would get no negatives to learn from.
    """
    spec = cfg.data
    if spec.type == "jsonl":
        if not spec.path:
            raise InputError("data.path: a jsonl training set needs its file")
        examples = read_examples(spec.path)
    else:
        from clir_rag.eval.xquad import xquad_training_pairs

        examples = [
            TrainingExample(id=qid, query=q, positive=p)
            for qid, q, p in xquad_training_pairs(spec.lang, cfg.data_dir, spec.split)
        ]
    examples = examples[: spec.limit]
    if not examples:
        raise InputError("no training examples")
    wanted = spec.negatives
    if wanted is None:
        wanted = DEFAULT_CROSS_ENCODER_NEGATIVES if cfg.kind == "cross-encoder" else 0
    if wanted:
        examples = _add_random_negatives(examples, wanted, cfg.seed)
    if cfg.kind == "cross-encoder" and not any(ex.negatives for ex in examples):
        raise InputError("a cross-encoder learns from negatives: give some in the data or set data.negatives")
    return examples


def _add_random_negatives(examples: list[TrainingExample], n: int, seed: int) -> list[TrainingExample]:
    """Each example with ``n`` more negatives: positives of other examples, drawn with a fixed seed."""
    pool = sorted({ex.positive for ex in examples})
    if len(pool) <= n:
        raise InputError(f"data.negatives={n} needs more than {n} distinct positives, the data has {len(pool)}")
    rng = random.Random(seed)
    out = []
    for ex in examples:
        picked: list[str] = []
        while len(picked) < n:
            cand = pool[rng.randrange(len(pool))]
            if cand != ex.positive and cand not in picked:
                picked.append(cand)
        out.append(dataclasses.replace(ex, negatives=(*ex.negatives, *picked)))
    return out


def train(cfg: TrainConfig, progress: bool = True) -> TrainResult:
    """Run the training ``cfg`` describes; resume from its last checkpoint if a run was interrupted.

    Checks the data (and lexicons) before loading any model. Returns the :class:`TrainResult`,
    also written to ``<out>/train-summary.json``.
    """
    out = Path(cfg.out or f"runs/train/{cfg.name}")
    examples = training_examples(cfg)
    switch_stats = None
    written: list[TrainingExample] | list[SwitchedExample] = examples
    if cfg.codeswitch is not None:
        cs = cfg.codeswitch
        lexicons = [read_muse(path, "en", lang) for lang, path in cs.lexicons.items()]
        switched, report = code_switch(examples, lexicons, p=cs.p, mode=cs.mode, seed=cs.seed)
        examples, switch_stats, written = [s.example for s in switched], report.as_dict(), switched
        if progress:
            log.info("%s", report)
    out.mkdir(parents=True, exist_ok=True)
    write_examples(out / "train-data.jsonl", written)
    try:
        import datasets  # noqa: F401  # the trainer's data format
        import sentence_transformers  # noqa: F401
        from transformers.trainer_utils import get_last_checkpoint
    except ImportError as e:
        raise missing_extra("clir-rag train", "train", e) from e
    checkpoints = out / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    start = time.perf_counter()
    from transformers import set_seed

    set_seed(cfg.seed)  # before the model is built: a new head's initial weights are drawn then, not in train()
    if cfg.kind == "bi-encoder":
        trainer, model = _bi_encoder_trainer(cfg, examples, checkpoints, progress)
    else:
        trainer, model = _cross_encoder_trainer(cfg, examples, checkpoints, progress)
    trainer.train(resume_from_checkpoint=last)
    model_dir = out / "model"
    model.save(str(model_dir))
    losses = [(int(e["step"]), float(e["loss"])) for e in trainer.state.log_history if "loss" in e]
    result = TrainResult(
        model_dir=model_dir,
        kind=cfg.kind,
        examples=len(examples),
        steps=int(trainer.state.global_step),
        resumed_from_step=int(last.rsplit("-", 1)[1]) if last else None,
        losses=losses,
        seconds=round(time.perf_counter() - start, 1),
        codeswitch=switch_stats,
    )
    (out / "train-summary.json").write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    return result


def _common_args(cfg: TrainConfig, checkpoints: Path, progress: bool) -> dict[str, Any]:
    return dict(
        output_dir=str(checkpoints),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        **_warmup(cfg.warmup_ratio),
        save_steps=cfg.save_steps,
        save_total_limit=2,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        use_cpu=True,  # this project's machines have none; a user with a GPU drops it (or runs on Ray)
        disable_tqdm=not progress,
    )


def _warmup(ratio: float) -> dict[str, float]:
    """The warm-up as a share of the steps: ``warmup_steps`` as a float from transformers 5 on, which deprecates
    ``warmup_ratio``; ``warmup_ratio`` before."""
    import transformers

    major = int(transformers.__version__.split(".", 1)[0])
    return {"warmup_steps": ratio} if major >= 5 else {"warmup_ratio": ratio}


def _bi_encoder_trainer(
    cfg: TrainConfig, examples: list[TrainingExample], checkpoints: Path, progress: bool
) -> tuple[Any, Any]:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments as Args

    try:  # sentence-transformers >= 6 moved them; older releases have them at the top
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    except ImportError:  # pragma: no cover - depends on the installed release
        from sentence_transformers.losses import (  # type: ignore[no-redef,import-not-found,unused-ignore]
            MultipleNegativesRankingLoss,
        )
        from sentence_transformers.training_args import (  # type: ignore[no-redef,import-not-found,unused-ignore]
            BatchSamplers,
        )

    model = SentenceTransformer(cfg.model, device="cpu")
    model.max_seq_length = cfg.max_length
    negatives = min(len(ex.negatives) for ex in examples)  # the loss takes a fixed number of columns
    columns: dict[str, list[str]] = {
        "query": [ex.query for ex in examples],
        "positive": [ex.positive for ex in examples],
    }
    for i in range(negatives):
        columns[f"negative_{i + 1}"] = [ex.negatives[i] for ex in examples]
    # e5-style models read "query: " and "passage: " prefixes: train with the prompts they are used with
    prompts = model.prompts or {}
    query_prompt = prompts.get("query") or ""
    passage_prompt = prompts.get("passage") or prompts.get("document") or ""
    column_prompts: dict[str, str] = {name: (query_prompt if name == "query" else passage_prompt) for name in columns}
    args = Args(
        **_common_args(cfg, checkpoints, progress),
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # a duplicate positive in a batch would be a false negative
        prompts=column_prompts if query_prompt or passage_prompt else None,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict(columns),
        loss=MultipleNegativesRankingLoss(model),
    )
    return trainer, model


def _cross_encoder_trainer(
    cfg: TrainConfig, examples: list[TrainingExample], checkpoints: Path, progress: bool
) -> tuple[Any, Any]:
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments as Args
    from sentence_transformers.cross_encoder.losses import MultipleNegativesRankingLoss

    model = CrossEncoder(cfg.model, num_labels=1, max_length=cfg.max_length, device="cpu")
    negatives = min(len(ex.negatives) for ex in examples)
    columns: dict[str, list[str]] = {
        "query": [ex.query for ex in examples],
        "positive": [ex.positive for ex in examples],
    }
    for i in range(negatives):
        columns[f"negative_{i + 1}"] = [ex.negatives[i] for ex in examples]
    trainer = CrossEncoderTrainer(
        model=model,
        args=Args(**_common_args(cfg, checkpoints, progress)),
        train_dataset=Dataset.from_dict(columns),
        # each query scored against its positive, its given negatives and other examples' passages, then a
        # softmax over them: a stronger ranking signal per pair than pointwise relevance labels
        loss=MultipleNegativesRankingLoss(model, num_negatives=negatives),
    )
    return trainer, model
