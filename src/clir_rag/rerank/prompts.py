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

PAIRWISE_USER = (
    'Given a query "{query}", which of the following two passages is more relevant to the query?\n\n'
    'Passage A: "{passage_a}"\n\n'
    'Passage B: "{passage_b}"\n\n'
    "Output Passage A or Passage B:"
)
PAIRWISE_LABELS = ("Passage A", "Passage B")
