"""Token estimates for backends without a tokenizer at hand."""

from clir_rag.chunk.chunker import approximate_token_count


def approximate_tokens(text: str) -> int:
    # Erring high by a quarter keeps prompts inside the context window with unknown tokenizers.
    """Tokens ``text`` likely takes for an unknown tokenizer, erring high."""
    return int(approximate_token_count(text) * 1.25) + 1
