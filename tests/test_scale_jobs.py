"""Corpus translation on Ray (a real local cluster, ray.init(num_cpus=2)): CTranslate2 actors give the
single-process job's output, share its sentence cache, and an interrupted run resumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="needs the [ray] extra")
pytest.importorskip("ctranslate2", reason="needs the [mt] extra")

from clir_rag.scale import RayTranslator  # noqa: E402
from clir_rag.translate import CTranslate2Translator  # noqa: E402
from clir_rag.translate.corpus import translate_corpus  # noqa: E402
from clir_rag.types import Document  # noqa: E402
from tests.builders.tiny_nmt import build_tiny_nllb  # noqa: E402

SUPPORTED = {"en", "de", "sw", "zh", "fr", "ru"}  # the tiny model's languages


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A real two-CPU Ray cluster on this machine, shut down after the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))[1]


@pytest.fixture(scope="module")
def docs(demo_docs: list[Document]) -> list[Document]:
    chosen = [d for d in demo_docs if d.lang in SUPPORTED]
    assert len({d.lang for d in chosen}) == len(SUPPORTED) and any(d.title for d in chosen)
    return chosen


@pytest.fixture(scope="module")
def single_process(tiny_nllb: Path, docs: list[Document], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the corpus translated into English in this process."""
    out = tmp_path_factory.mktemp("single") / "en.jsonl"
    translate_corpus(docs, CTranslate2Translator(tiny_nllb), "en", out, batch_size=4, progress=False)
    return out


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_ray_translation_is_the_single_process_output_and_shares_the_cache(
    ray_cluster, tiny_nllb: Path, docs: list[Document], single_process: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "sentences.sqlite"
    translator = RayTranslator(tiny_nllb, actors=2, cache=cache)
    assert translator.name == CTranslate2Translator(tiny_nllb).name  # the same source hashes, the same cache keys
    out = tmp_path / "en.jsonl"
    stats = translate_corpus(docs, translator, "en", out, batch_size=4, progress=False)
    assert out.read_bytes() == single_process.read_bytes()  # record for record, byte for byte
    english = sum(d.lang == "en" for d in docs)
    assert stats.translated == len(docs) - english and stats.copied == english
    assert stats.sentences == translator.stats.segments > stats.translated  # the actors' counts came back
    assert translator.stats.cache_hits == 0 and translator.stats.translated > 0

    # a rerun of the same output does nothing; a new output with the same cache translates nothing afresh
    assert translate_corpus(docs, translator, "en", out, batch_size=4, progress=False).skipped == len(docs)
    again = RayTranslator(tiny_nllb, actors=1, cache=cache)
    translate_corpus(docs, again, "en", tmp_path / "again.jsonl", batch_size=4, progress=False)
    assert (tmp_path / "again.jsonl").read_bytes() == single_process.read_bytes()
    assert again.stats.translated == 0 and again.stats.cache_hits == again.stats.segments > 0


class _Interrupted(RayTranslator):
    """The Ray translator, its driver stopped after ``ok`` batches were handed over (and so written)."""

    ok = 2

    def translate_batches(self, batches, tgt):
        for n, batch in enumerate(super().translate_batches(batches, tgt)):
            if n == self.ok:
                raise KeyboardInterrupt("simulated interruption")
            yield batch


def test_an_interrupted_ray_translation_resumes_to_the_same_records(
    ray_cluster, tiny_nllb: Path, docs: list[Document], single_process: Path, tmp_path: Path
) -> None:
    out = tmp_path / "en.jsonl"
    with pytest.raises(KeyboardInterrupt):
        translate_corpus(docs, _Interrupted(tiny_nllb, actors=2), "en", out, batch_size=4, progress=False)
    kept = len(_records(out))
    assert 0 < kept < len(docs)
    stats = translate_corpus(docs, RayTranslator(tiny_nllb, actors=2), "en", out, batch_size=4, progress=False)
    assert stats.skipped == kept and stats.translated + stats.copied == len(docs) - kept
    by_id = {r["id"]: r for r in _records(out)}
    assert len(by_id) == len(docs) == len(_records(out))  # each document once
    assert by_id == {r["id"]: r for r in _records(single_process)}


def test_translate_command_on_ray_and_an_unsupported_language_before_any_work(
    ray_cluster, tiny_nllb: Path, docs: list[Document], single_process: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from clir_rag.cli import app

    corpus = tmp_path / "corpus.jsonl"
    records = [{**d.metadata, **d.model_dump(exclude={"metadata"})} for d in docs]  # as a corpus file holds them
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "en.jsonl"
    args = ["translate", str(corpus), "--to", "en", "--model", str(tiny_nllb), "-o", str(out), "--batch-size", "4"]
    result = CliRunner().invoke(app, [*args, "--ray", "--ray-actors", "2"])
    assert result.exit_code == 0, result.output
    assert f"Translated {len(docs) - sum(d.lang == 'en' for d in docs)} documents into en" in result.output
    assert out.read_bytes() == single_process.read_bytes()
    # Thai is not in the model: refused before an actor starts or a line is written
    th = CliRunner().invoke(app, [*args[:3], "th", *args[4:6], "-o", str(tmp_path / "th.jsonl"), "--ray"])
    assert th.exit_code == 1 and "not supported by the nllb model" in th.output
    assert not (tmp_path / "th.jsonl").exists() or (tmp_path / "th.jsonl").read_text() == ""
