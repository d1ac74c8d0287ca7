"""Prompt templates of the rerankers, as plain format strings so users (and LlamaIndex) can swap them."""

LISTWISE_SYSTEM = (
    "You are RankLLM, an intelligent assistant that can rank passages based on their relevancy to the query."
)
LISTWISE_USER = (
    "I will provide you with {num} passages, each indicated by a numerical identifier []. "
    "Rank the passages based on their relevance to the search query: {query}\n\n"
    "{passages}\n\n"
    "Search Query: {query}\n"
    "Rank the {num} passages above based on their relevance to the search query. The passages may be "
    "written in different languages from the query; judge their meaning. List all passages by identifier in "
    "descending order of relevance. The output format should be [] > [], e.g., [2] > [1]. "
    "Only respond with the ranking results, do not say any word or explain."
)
LISTWISE_PASSAGE = "[{id}] {text}"
# fewer tokens than this of a passage tell the model nothing: a window or comparison that leaves less is refused
MIN_PASSAGE_TOKENS = 16

PAIRWISE_USER = (
    'Given a query "{query}", which of the following two passages is more relevant to the query?\n\n'
    'Passage A: "{passage_a}"\n\n'
    'Passage B: "{passage_b}"\n\n'
    "Output Passage A or Passage B:"
)
PAIRWISE_LABELS = ("Passage A", "Passage B")

# placeholders each template must use, and may use, by template name
PLACEHOLDERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "listwise user prompt": (frozenset({"query", "passages"}), frozenset({"num"})),
    "listwise passage template": (frozenset({"id", "text"}), frozenset()),
    "pairwise prompt": (frozenset({"query", "passage_a", "passage_b"}), frozenset()),
}


def check_template(template: str, name: str) -> str:
    """``template`` if it uses every placeholder ``name`` needs and no other; else an ``InputError`` naming it.

    A prompt without ``{passages}`` would silently send the model no passages, and an unknown
    ``{placeholder}`` would fail only at the first query; both are caught where the template is set.
    Literal braces are written doubled (``{{`` and ``}}``).
    """
    from string import Formatter

    from clir_rag.errors import InputError

    required, optional = PLACEHOLDERS[name]
    if not isinstance(template, str):
        raise InputError(f"the {name} must be a string, got {type(template).__name__}")
    try:
        used = {field for _, field, _, _ in Formatter().parse(template) if field is not None}
    except ValueError as e:  # a single { or } that is not a placeholder
        raise InputError(f"the {name} is not a valid template ({e}); write literal braces as {{{{ and }}}}") from e
    # "{query.upper}" or "{passages[0]}" name the placeholder before the attribute or index
    names = {field.split(".")[0].split("[")[0] for field in used}
    if missing := sorted(required - names):
        raise InputError(f"the {name} lacks the placeholder(s) {', '.join('{' + m + '}' for m in missing)}")
    if unknown := sorted(names - required - optional):
        shown = ", ".join("{" + u + "}" for u in unknown)
        allowed = ", ".join("{" + a + "}" for a in sorted(required | optional))
        raise InputError(f"the {name} has unknown placeholder(s) {shown}: it may use {allowed}")
    return template
