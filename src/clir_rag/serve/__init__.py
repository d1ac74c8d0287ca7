"""A multilingual QA service over an index: ``clir-rag serve`` (FastAPI + uvicorn, extra ``[serve]``).

``create_app(ServeSettings(index=...))`` builds the app: ``GET /health``, ``POST /search``,
``POST /answer`` (and ``/answer/stream``, server-sent events), ``POST /translate``, and with
``allow_writes`` ``POST /documents`` and ``DELETE /documents/{id}``. Safe by default: it binds
127.0.0.1 and serves only loopback ``Host`` names; an optional API key guards every endpoint but
``/health`` and the page, checked before a body is read; bodies are counted as they arrive and
refused past their limit; LLM work waits in a bounded queue (503 + Retry-After when full) whose
places are given back as soon as a client leaves; CORS is off unless origins are given; writes are
off unless turned on, and then need the key.

Modules: :mod:`~clir_rag.serve.settings`, :mod:`~clir_rag.serve.schemas`, :mod:`~clir_rag.serve.guard`,
:mod:`~clir_rag.serve.admission`, :mod:`~clir_rag.serve.service` (the work), :mod:`~clir_rag.serve.routes`,
:mod:`~clir_rag.serve.documents` and :mod:`~clir_rag.serve.events` (the endpoints),
:mod:`~clir_rag.serve.handlers` (errors as responses), :mod:`~clir_rag.serve.app` (the factory),
:mod:`~clir_rag.serve.run`.
"""

from clir_rag.serve.app import ServeSettings, Service, create_app

__all__ = ["ServeSettings", "Service", "create_app"]
