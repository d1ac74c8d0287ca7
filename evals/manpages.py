"""Long non-Wikipedia documents for cross-lingual MaxP: Debian's translated manual pages.

    from manpages import load_manpages   # with evals/ on sys.path
    coll = load_manpages("de", "en")     # German queries, English pages

Debian ships the English pages (``manpages``, and every package's own) under ``/usr/share/man/manN``
and translations under ``/usr/share/man/<lang>/manN`` (``apt-get install manpages-de manpages-cs
manpages-ru ...``, from manpages-l10n). A page ``name.section`` that exists in every language of
``langs`` is rendered in each (``man --nh --nj -l FILE | col -bx``, no hyphenation, no justification,
2,000 columns so that a paragraph is one line) and kept when its English rendering has at least
``min_words`` words.

* query (language A): the one-line description of the page's NAME section, without the name
  (``ls - list directory contents`` -> ``list directory contents``);
* document (language B): the page in B without its running header and footer, its NAME section, and
  boilerplate sections (COLOPHON; the translators' credits of translated pages), so the query's text
  is never copied into its document. Line structure is kept (sections, indented option lists);
* relevance: the page's own translation (one relevant document per query).

The data is read from the system and never copied into the repository; renderings are cached as
plain text under ``cache`` (default ``runs/manpages-cache``, gitignored) because groff takes ~0.1 s a page.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
from pathlib import Path

from clir_rag.eval.collection import Collection
from clir_rag.types import Document, Query

MAN_ROOT = Path("/usr/share/man")
DEFAULT_LANGS = ("en", "de", "cs", "ru")
# Headings of sections that are boilerplate, the same on every page of a language.
_BOILERPLATE = {
    "COLOPHON",
    "ÜBERSETZUNG",
    "TRADUCTION",
    "TRADUCCIÓN",
    "TRADUZIONE",
    "TŁUMACZENIE",
    "PŘEKLAD",
    "ПЕРЕВОД",
    "VERTALING",
    "TRADUÇÃO",
}
# Untranslated pages (a translation package that ships the English text): more than this share of
# English function words in a non-English body. English bodies have ~0.2, translated ones 0.00-0.08.
_ENGLISH_WORDS = {"the", "and", "of", "to", "is", "a", "in", "that", "for", "with"}
MAX_ENGLISH_SHARE = 0.1
_DASH = re.compile(r"\s+[-‐‑–—−]+\s+|\s*\\-\s*")


def _page_files(root: Path) -> dict[tuple[str, str], Path]:
    out: dict[tuple[str, str], Path] = {}
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        if not re.fullmatch(r"man\d\w*", d.name) or not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            m = re.fullmatch(r"(.+)\.(\d\w*)\.gz", f.name)
            if m and f.is_file():
                out[(m.group(1), m.group(2))] = f
    return out


def _is_redirect(path: Path) -> bool:
    """A page that is only ``.so other_page`` (an alias): its rendering is another page's."""
    try:
        raw = gzip.decompress(path.read_bytes())[:400].decode("utf-8", "replace")
    except OSError:
        return True
    lines = [x for x in raw.splitlines() if x.strip() and not x.startswith(('.\\"', "'\\\""))]
    return len(lines) <= 2 and any(x.startswith(".so ") for x in lines)


def render(path: Path, cache: Path | None = None) -> str:
    """Plain UTF-8 text of a manual page (one paragraph a line), cached under ``cache``."""
    if cache is not None:
        key = hashlib.sha1(str(path).encode()).hexdigest()[:16]
        cached = cache / f"{path.name}.{key}.txt"
        if cached.exists():
            return cached.read_text(encoding="utf-8")
    env = {**os.environ, "MANWIDTH": "2000", "LC_ALL": "C.UTF-8", "MAN_KEEP_FORMATTING": ""}
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    out = subprocess.run(
        f"man --nh --nj -l '{path}' 2>/dev/null | col -bx", shell=True, env=env, capture_output=True, check=False
    ).stdout.decode("utf-8", "replace")
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        cached.write_text(out, encoding="utf-8")
    return out


def split_page(rendered: str) -> tuple[str, str]:
    """(NAME description, body): the body without header, footer, NAME and boilerplate sections.

    A section heading is a line that starts in column 0; the first one after the running header is
    NAME in whatever language. Lines are right-stripped and the man indentation is removed.
    """
    lines = [x.rstrip() for x in rendered.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 3:
        return "", ""
    lines = lines[1:-1]  # running header (LS(1) ... LS(1)) and footer (GNU coreutils 9.1 ... LS(1))
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        if line and not line[0].isspace():
            sections.append((line.strip(), []))
        elif sections:
            sections[-1][1].append(line.strip())
    if not sections:
        return "", ""
    name_body = " ".join(x for x in sections[0][1] if x)
    parts = _DASH.split(name_body, maxsplit=1)
    description = parts[1].strip() if len(parts) == 2 else ""
    body: list[str] = []
    for heading, content in sections[1:]:
        if heading.upper() in _BOILERPLATE:
            continue
        body.append(heading)
        body.extend(content)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(body)).strip()
    return description, text


def english_share(text: str) -> float:
    """Share of English function words among the words of ``text``."""
    words = text.lower().split()
    return sum(w in _ENGLISH_WORDS for w in words) / max(len(words), 1)


def manpage_corpus(
    langs: tuple[str, ...] | list[str] = DEFAULT_LANGS,
    min_words: int = 1500,
    man_root: str | Path = MAN_ROOT,
    cache: str | Path | None = "runs/manpages-cache",
    max_pages: int | None = None,
) -> dict[str, dict[str, tuple[str, str]]]:
    """``{page: {lang: (description, body)}}`` for pages in every language of ``langs``.

    Kept: pages (not aliases) whose English body has at least ``min_words`` words, whose every body
    has at least half of that, whose description has at least two words in every language and whose
    translations are not English text (at most ``MAX_ENGLISH_SHARE`` English function words); a
    page whose English body equals an earlier one's is dropped. Sorted by page name; ``max_pages``
    keeps the first n.
    """
    root = Path(man_root)
    cache_dir = Path(cache) if cache else None
    files = {lang: _page_files(root if lang == "en" else root / lang) for lang in langs}
    common = sorted(set.intersection(*(set(f) for f in files.values())))
    out: dict[str, dict[str, tuple[str, str]]] = {}
    seen: set[str] = set()
    for key in common:
        if any(_is_redirect(files[lang][key]) for lang in langs):
            continue
        page = f"{key[0]}.{key[1]}"
        en = split_page(render(files["en"][key] if "en" in files else files[langs[0]][key], cache_dir))
        if len(en[1].split()) < min_words or en[1] in seen:
            continue
        seen.add(en[1])
        got = {lang: split_page(render(files[lang][key], cache_dir)) for lang in langs}
        if all(len(d.split()) >= 2 and len(b.split()) >= min_words // 2 for d, b in got.values()) and all(
            english_share(got[lang][1]) <= MAX_ENGLISH_SHARE for lang in langs if lang != "en"
        ):
            out[page] = got
        if max_pages is not None and len(out) >= max_pages:
            break
    return out


def load_manpages(
    query_lang: str,
    doc_lang: str,
    langs: tuple[str, ...] | list[str] = DEFAULT_LANGS,
    min_words: int = 1500,
    man_root: str | Path = MAN_ROOT,
    cache: str | Path | None = "runs/manpages-cache",
    max_pages: int | None = None,
    corpus: dict[str, dict[str, tuple[str, str]]] | None = None,
) -> Collection:
    """Queries in ``query_lang`` (NAME descriptions), pages in ``doc_lang``; see :func:`manpage_corpus`.

    Document ids are ``<doc_lang>:<name>.<section>``, query ids ``<name>.<section>``; documents carry
    no title (the page name is the command, which would give the answer away). ``corpus`` reuses an
    already rendered :func:`manpage_corpus` (same ``langs``).
    """
    if query_lang not in langs or doc_lang not in langs:
        raise ValueError(f"query and document languages must be among {langs}")
    pages = corpus if corpus is not None else manpage_corpus(langs, min_words, man_root, cache, max_pages)
    docs = [Document(id=f"{doc_lang}:{p}", text=v[doc_lang][1], lang=doc_lang) for p, v in pages.items()]
    queries = [Query(id=p, text=v[query_lang][0], lang=query_lang) for p, v in pages.items()]
    qrels = {p: {f"{doc_lang}:{p}": 1} for p in pages}
    tag = "-".join(langs)
    return Collection(
        f"manpages-{query_lang}-{doc_lang}",
        queries,
        docs,
        qrels,
        query_lang,
        [doc_lang],
        corpus=f"manpages-{tag}-{doc_lang}-w{min_words}",
    )


if __name__ == "__main__":  # describe the benchmark
    import argparse

    ap = argparse.ArgumentParser(description="Describe the man-page benchmark")
    ap.add_argument("--langs", default=",".join(DEFAULT_LANGS))
    ap.add_argument("--min-words", type=int, default=1500)
    a = ap.parse_args()
    lg = a.langs.split(",")
    c = manpage_corpus(lg, a.min_words)
    print(f"{len(c)} pages in {', '.join(lg)} (English body >= {a.min_words} words)")
    for lang in lg:
        w = sorted(len(v[lang][1].split()) for v in c.values())
        if w:
            print(f"  {lang}: words per document min {w[0]} median {w[len(w) // 2]} max {w[-1]} total {sum(w)}")
    for p, v in list(c.items())[:8]:
        print(p, " | ".join(f"{lang}: {v[lang][0]}" for lang in lg))
