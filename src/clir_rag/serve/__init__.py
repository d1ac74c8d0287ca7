"""A multilingual QA service over an index: ``clir-rag serve`` (FastAPI + uvicorn, extra ``[serve]``).

``create_app(ServeSettings(index=...))`` builds the app: ``GET /health``, ``POST /search``,
``POST /answer`` (and ``/answer/stream``, server-sent events), ``POST /translate``. Safe by
default: it binds 127.0.0.1, an optional API key guards every endpoint but ``/health``, request
bodies and queries are bounded, LLM work waits in a bounded queue (503 + Retry-After when full),
CORS is off unless origins are given, and the index is only read.
"""

from clir_rag.serve.app import ServeSettings, create_app

__all__ = ["ServeSettings", "create_app"]
