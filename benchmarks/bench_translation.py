"""CTranslate2 translation vs transformers ``generate``, on one model in one run.

    python benchmarks/bench_translation.py [--sentences 400] [--d-model 256] [--layers 3]
    python benchmarks/bench_translation.py --preset nllb-600m --sentences 64

The ``nllb-600m`` preset gives the random model the shape of
facebook/nllb-200-distilled-600M (d_model 1024, 12+12 layers, 16 heads, FFN 4096,
256,206-piece vocabulary), so the ratio reflects the model users will run;
the small shapes mostly measure per-step overhead.

Builds a tiny NLLB-shaped model (random weights; see tests/builders/tiny_nmt.py),
then translates the same German sentences into English three ways:
(a) transformers ``generate`` (float32, greedy, batches of 32 sorted by
length so padding is minimal, forced target language token); (b) clir-rag's
CTranslate2Translator (int8, greedy, batching by tokens) end to end, including
sentence segmentation; (c) (b) again with its cache warm. Both decoders get the same maximum length, and a random model
rarely stops early, so both generate about the same number of tokens.
Reports sentences/s and the ratio b/a (target >= 3), and the cache hit rate
of the second pass (target 100%).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

WORDS = "der die das Hund Katze Haus Kaffee wächst schläft in den Bergen im Garten und spielt heute".split()


PRESETS = {
    "nllb-600m": {"d_model": 1024, "layers": 12, "heads": 16, "ffn_dim": 4096, "vocab_size": 256206},
}


def sentences(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "." for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=400)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--ffn-dim", type=int, default=None, help="default 2 * d_model")
    ap.add_argument("--vocab-size", type=int, default=None, help="pad the vocabulary to this size")
    ap.add_argument("--preset", choices=sorted(PRESETS), help="a real model's shape (overrides the above)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compute-type", default="int8", help="CTranslate2 compute type (int8, float32, ...)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/translation.json"))
    args = ap.parse_args()
    if args.preset:
        for key, value in PRESETS[args.preset].items():
            setattr(args, key, value)

    import sentencepiece as spm
    import torch
    from transformers import M2M100ForConditionalGeneration

    from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

    # the builder is test code, kept out of the wheel: import it from the repository's tests/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.builders.tiny_nmt import build_tiny_nllb

    torch.set_num_threads(args.threads)
    texts = sentences(args.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir, ct2_dir = build_tiny_nllb(
            Path(tmp) / "model",
            d_model=args.d_model,
            layers=args.layers,
            heads=args.heads,
            ffn_dim=args.ffn_dim,
            vocab_size=args.vocab_size,
            # word-level pieces: sequence lengths like a real tokenizer's, not one piece per character
            corpus=sentences(2000, seed=2),
            spm_vocab_size=96,
        )
        vocab = json.loads((hf_dir / "vocab.json").read_text())
        ids = {tok: i for i, tok in enumerate(vocab)}
        sp = spm.SentencePieceProcessor(model_file=str(hf_dir / "sentencepiece.bpe.model"))
        sources = sorted(([ids["deu_Latn"], *sp.encode(t), ids["</s>"]] for t in texts), key=len)
        max_len = 2 * max(len(s) for s in sources) + 16  # the same cap CTranslate2Translator uses

        model = M2M100ForConditionalGeneration.from_pretrained(hf_dir).eval()
        t = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(sources), 32):
                batch = sources[i : i + 32]
                width = max(len(s) for s in batch)
                input_ids = torch.tensor([s + [1] * (width - len(s)) for s in batch])
                model.generate(
                    input_ids=input_ids,
                    attention_mask=(input_ids != 1).long(),
                    do_sample=False,
                    num_beams=1,
                    max_length=max_len,
                    forced_bos_token_id=ids["eng_Latn"],
                )
        hf_s = time.perf_counter() - t

        del model
        translator = CTranslate2Translator(
            ct2_dir,
            intra_threads=args.threads,
            cache=Path(tmp) / "cache.sqlite",
            max_input_tokens=max_len,
            compute_type=args.compute_type,
        )
        t = time.perf_counter()
        translator.translate(texts, "de", "en")
        ct2_s = time.perf_counter() - t
        first_segments = translator.stats.segments
        second = CTranslate2Translator(
            ct2_dir, intra_threads=args.threads, cache=Path(tmp) / "cache.sqlite", compute_type=args.compute_type
        )
        t = time.perf_counter()
        second.translate(texts, "de", "en")
        cached_s = time.perf_counter() - t

    result = {
        "sentences": len(texts),
        "segments": first_segments,
        "model": (
            f"{args.preset or 'custom'}: d_model={args.d_model}, layers={args.layers}, heads={args.heads}, "
            f"ffn={args.ffn_dim or 2 * args.d_model}, vocab={args.vocab_size or 'tiny'}, ct2 {args.compute_type}"
        ),
        "hf_generate_sentences_per_s": len(texts) / hf_s,
        "ct2_sentences_per_s": len(texts) / ct2_s,
        "ratio_ct2_over_hf": hf_s / ct2_s,
        "second_pass_cache_hit_rate": second.stats.cache_hit_rate,
        "second_pass_translated": second.stats.translated,
        "second_pass_seconds": cached_s,
    }
    print(
        f"\nTranslation benchmark: {len(texts)} German sentences -> English, tiny NLLB ({result['model']}), "
        f"{args.threads} threads\n"
    )
    print("| measure | value |\n|---|---|")
    print(f"| transformers generate (fp32, batch 32) | {result['hf_generate_sentences_per_s']:.1f} sentences/s |")
    print(f"| CTranslate2Translator (int8, token batches) | {result['ct2_sentences_per_s']:.1f} sentences/s |")
    print(f"| ratio CTranslate2 / transformers (target >= 3) | {result['ratio_ct2_over_hf']:.2f}x |")
    print(
        f"| second pass: cache hit rate (target 100%) | {result['second_pass_cache_hit_rate']:.0%} "
        f"({result['second_pass_translated']} translated, {cached_s:.2f}s) |"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
