"""``POST /answer/stream``'s body: the answer as server-sent events, and the response that ends them cleanly.

:func:`answer_events` yields ``sources``, then ``token`` events as the model writes, then ``answer`` or
``error``; :class:`EventStream` closes that generator and gives the request's queue place back however the
response ends. Imported by the routes only, once FastAPI (and so Starlette) is known installed.
"""

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from clir_rag.errors import ClirRagError, InputError, LLMError, StoreUnavailableError
from clir_rag.serve.admission import ClientGone, Ticket
from clir_rag.serve.schemas import AnswerLangSource, AnswerRequest
from clir_rag.serve.service import Service


def event(name: str, data: Any) -> str:
    """One server-sent event ``name`` carrying ``data`` as JSON (non-ASCII kept as is)."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_events(
    service: Service, req: AnswerRequest, request: Request, ticket: Ticket, lang: tuple[str, AnswerLangSource]
) -> AsyncIterator[str]:
    """The answer's server-sent events; the LLM's stream is closed and the place given back however it ends."""
    stream: Iterator[str] | None = None
    try:
        async with ticket.run(request.is_disconnected):
            ranking, reranked = await anyio.to_thread.run_sync(service.candidates, req)
            sources = [c.model_dump(mode="json") for c in ranking.candidates]
            yield event("sources", {"passages": sources, "reranked": reranked, "lang": lang[0], "lang_source": lang[1]})
            answering = service.generator.stream(service.for_answer(ranking, lang[0]), ranking.candidates)
            stream = iter(answering)
            while (piece := await anyio.to_thread.run_sync(next, stream, None)) is not None:
                yield event("token", {"text": piece})
            try:
                if answering.answer is None:  # cannot be: the loop read the stream to its end, which sets it
                    raise ClirRagError("the answer's stream ended without an answer")
                done = service.response(answering.answer, ranking, reranked, lang[1])
                yield event("answer", done.model_dump(mode="json"))
            except LLMError as e:
                yield event("error", {"detail": f"the LLM is unavailable: {e}", "status": 503})
    except ClientGone:
        return
    except StoreUnavailableError as e:
        yield event("error", {"detail": f"the vector store is unavailable: {e}", "status": 503})
    except ClirRagError as e:
        yield event("error", {"detail": str(e), "status": 400 if isinstance(e, InputError) else 500})
    finally:
        if stream is not None:
            # closing the generator closes the LLM's stream (an HTTP response, llama.cpp's lock); shielded, since
            # a client that left has cancelled this task; done before the slot is given back (``run``'s exit)
            close = getattr(stream, "close", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(close)


class EventStream(StreamingResponse):
    """A server-sent-event response that, however it ends (done, failed, the client gone), closes its
    events' generator and gives the request's place back then, not when the garbage collector runs."""

    def __init__(self, events: AsyncIterator[str], ticket: Ticket) -> None:
        super().__init__(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self._events = events
        self._ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the events, then close their generator and release the ticket (also when sending failed)."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._events.aclose()  # type: ignore[attr-defined]
            self._ticket.release()  # a stream that never started never entered ``run``
