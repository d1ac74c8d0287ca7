import pytest
from pydantic import ValidationError

from clir_rag.types import Document, Query, Ranking, ScoredCandidate

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def test_document_normalises_language_and_strips_id() -> None:
    doc = Document(id=" d1 ", text="Hallo", lang="deu_Latn")
    assert doc.id == "d1"
    assert doc.lang == "de"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": "", "text": "x"}, "document id is empty"),
        ({"id": "a", "text": " \n\t"}, "text is empty"),
        ({"id": "a", "text": "x", "lang": "zz"}, "unknown language code 'zz'"),
    ],
)
def test_document_rejects_bad_fields(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Document(**fields)


def test_content_hash_changes_with_text_title_and_language() -> None:
    base = Document(id="a", text="x", lang="de")
    assert base.content_hash() == Document(id="other", text="x", lang="de").content_hash()
    assert base.content_hash() != Document(id="a", text="y", lang="de").content_hash()
    assert base.content_hash() != Document(id="a", text="x", lang="en").content_hash()
    assert base.content_hash() != Document(id="a", text="x", lang="de", title="T").content_hash()


def test_query_rejects_blank_text() -> None:
    with pytest.raises(ValidationError):
        Query(text="  ")


def _cand(i: str, s: float) -> ScoredCandidate:
    return ScoredCandidate(id=i, doc_id=i, score=s)


def test_ranking_rejects_scores_out_of_order() -> None:
    with pytest.raises(ValidationError, match="not sorted"):
        Ranking(query=Query(text="q"), candidates=[_cand("a", 0.1), _cand("b", 0.5)])


def test_from_unsorted_sorts_and_breaks_ties_by_id() -> None:
    r = Ranking.from_unsorted(Query(text="q"), [_cand("b", 0.5), _cand("c", 0.9), _cand("a", 0.5)])
    assert r.ids == ["c", "a", "b"]
