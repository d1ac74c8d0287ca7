"""The writing endpoints, on with ``allow_writes`` only: ``POST /documents`` and ``DELETE /documents/{id}``.

A body is checked whole (every record a valid document, ids unique, at most ``max_upload_documents``) before
anything is written. Imported by :func:`~clir_rag.serve.app.create_app` only, once FastAPI is known installed.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations as objects.

import json
from typing import Any

from fastapi import FastAPI, Request

from clir_rag.errors import CorpusError
from clir_rag.serve.handlers import DocumentNotFoundError, WritesOffError
from clir_rag.serve.routes import blocking
from clir_rag.serve.schemas import DeletedResponse, DocumentsResponse
from clir_rag.serve.service import Service
from clir_rag.types import Document

# The body's schema for /docs: the route reads the raw body (see parse_documents), so FastAPI cannot derive it.
DOCUMENTS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "description": "documents as in a JSONL corpus: id (or docid, _id, doc_id), text, lang, title; "
                "other fields are kept as metadata",
                "items": {
                    "type": "object",
                    "required": ["id", "text"],
                    "properties": {
                        "id": {"type": "string"},
                        "text": {"type": "string"},
                        "lang": {"type": "string"},
                        "title": {"type": "string"},
                    },
                },
            }
        }
    },
}


def parse_documents(body: bytes, limit: int) -> list[Document]:
    """``POST /documents``'s body as checked documents; the first bad record is a one-line error naming it."""
    from clir_rag.corpus.reader import record_document

    try:
        records = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(f"body: not JSON ({e})") from None
    if not isinstance(records, list):
        raise CorpusError(f"body: expected a JSON array of documents, got {type(records).__name__}")
    if not records:
        raise CorpusError("body: no documents")
    if len(records) > limit:
        raise CorpusError(f"body: {len(records)} documents, more than the {limit} one request may hold")
    docs: list[Document] = []
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        doc = record_document(record, f"documents[{i}]", detect=True)
        if doc.id in seen:
            raise CorpusError(f"documents[{i}]: duplicate document id {doc.id!r} (first as documents[{seen[doc.id]}])")
        seen[doc.id] = i
        docs.append(doc)
    return docs


def add_document_routes(app: FastAPI, service: Service, guarded: list[Any]) -> None:
    """Add the writing endpoints to ``app`` (they answer 403 unless the service allows writes)."""
    settings = service.settings

    def writes_on() -> None:
        if not settings.allow_writes:
            raise WritesOffError("writes are off: start the service with --allow-writes (and an API key)")

    @app.post(
        "/documents",
        dependencies=guarded,
        response_model=DocumentsResponse,
        openapi_extra={"requestBody": DOCUMENTS_BODY},
    )
    async def add_documents(request: Request) -> DocumentsResponse:
        """Index documents (a JSON array of JSONL corpus records), all checked before any is written; by id:
        an unchanged document costs nothing, a changed one replaces its passages. Needs ``--allow-writes``."""
        writes_on()
        docs = await blocking(parse_documents, await request.body(), settings.max_upload_documents)
        return await blocking(service.add_documents, docs)

    @app.delete("/documents/{doc_id}", dependencies=guarded, response_model=DeletedResponse)
    async def delete_document(doc_id: str) -> DeletedResponse:
        """Remove a document (all its passages); 404 when the index has none by that id. Needs ``--allow-writes``."""
        writes_on()
        removed = await blocking(service.delete_document, doc_id)
        if not removed:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index")
        return DeletedResponse(doc_id=doc_id, passages=removed)
