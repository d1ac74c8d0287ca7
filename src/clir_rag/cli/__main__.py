"""``python -m clir_rag.cli``: the ``clir-rag`` command, for environments without its script."""

from clir_rag.cli import app

if __name__ == "__main__":  # pragma: no cover
    app()
