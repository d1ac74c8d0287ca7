"""Tiny CLEF- and CIRAL-format collections written on demand, for tests and end-to-end checks.

The real collections are large (CIRAL's corpus) or licensed (CLEF via ELRA),
so tests need stand-ins in the exact published formats. The texts are real
sentences on distinct topics, so a multilingual retriever finds the relevant
documents and a broken pipeline shows up as low scores, not just as a crash.
Everything here is invented for the fixture; nothing is copied from the
collections.
"""

from __future__ import annotations

import json
from pathlib import Path

from clir_rag.errors import InputError
from clir_rag.eval.clef import clef_pair, clef_paths

# --- CLEF 2003 (en-de) ------------------------------------------------------------------------------------------

# Three topics written three ways: with closing tags, CLEF style without them, and with lower-case tags.
_CLEF_TOPICS_EN = """\
<top>
<num> C141 </num>
<EN-title> Rhine floods </EN-title>
<EN-desc> Find reports on the flooding of the Rhine in early 1995 and its consequences for the cities
along the river. </EN-desc>
<EN-narr> Relevant documents describe water levels, evacuations or damage caused by the Rhine flood.
Floods of other rivers are not relevant. </EN-narr>
</top>

<top>
<num> C142
<EN-title> Opening of the Channel Tunnel
<EN-desc> What was reported about the opening of the railway tunnel under the English Channel between
France and Great Britain?
<EN-narr> Relevant documents report on the opening ceremony or the first trains through the tunnel.
</top>

<top>
<num> C143 </num>
<en-title> Football World Cup 1994 </en-title>
<en-desc> Find documents about matches and results of the 1994 football World Cup in the United States. </en-desc>
<en-narr> Reports on any match of the tournament are relevant; other football competitions are not. </en-narr>
</top>
"""

# (file, docno, title, text): two files, as the Frankfurter Rundschau and SDA collections are separate.
_CLEF_DOCS_DE = [
    (
        "fr/fr950130.sgml",
        "FR950130-001",
        "Köln kämpft gegen das Hochwasser",
        "Der Rhein hat in Köln einen Pegelstand von fast elf Metern erreicht. Die Altstadt steht unter Wasser, "
        "Hunderte Keller wurden überflutet, und die Feuerwehr errichtete Barrieren aus Sandsäcken entlang des Ufers.",
    ),
    (
        "fr/fr950130.sgml",
        "FR940507-002",
        "Königin und Präsident eröffnen den Kanaltunnel",
        "Mit einer feierlichen Zeremonie in Calais und Folkestone ist am Freitag der Tunnel unter dem Ärmelkanal "
        "eröffnet worden. Die Züge brauchen künftig nur noch 35 Minuten zwischen Frankreich und Großbritannien.",
    ),
    (
        "fr/fr950130.sgml",
        "FR940718-003",
        "Brasilien ist Weltmeister",
        "Brasilien hat das Finale der Fußball-Weltmeisterschaft in Pasadena gegen Italien im Elfmeterschießen "
        "gewonnen. Roberto Baggio verschoss den entscheidenden Strafstoß.",
    ),
    (
        "fr/fr950130.sgml",
        "FR940610-004",
        "Haushaltsdebatte im Bundestag",
        "Der Bundestag hat in Bonn über den Haushalt für das kommende Jahr beraten. Die Opposition kritisierte "
        "die hohe Neuverschuldung der Bundesregierung und forderte Einsparungen bei den Subventionen.",
    ),
    (
        "fr/fr950130.sgml",
        "FR950203-005",
        "Mosel über die Ufer getreten",
        "In Cochem und Trier ist die Mosel über die Ufer getreten. Die Uferstraßen sind gesperrt, und viele "
        "Weinkeller stehen unter Wasser.",
    ),
    (
        "sda/sda94.sgml",
        "SDA.950131.0012",
        "Hochwasser: Evakuierungen in den Niederlanden",
        "Wegen des Hochwassers von Rhein und Maas haben die niederländischen Behörden rund 250 000 Menschen aus "
        "der Provinz Gelderland in Sicherheit gebracht. Die Deiche sind aufgeweicht.",
    ),
    (
        "sda/sda94.sgml",
        "SDA.941114.0034",
        "Eurostar: Erste Fahrgäste durch den Tunnel",
        "Die ersten Eurostar-Züge mit zahlenden Fahrgästen sind zwischen London, Paris und Brüssel durch den "
        "Kanaltunnel gefahren. Die Fahrt von London nach Paris dauert drei Stunden.",
    ),
    (
        "sda/sda94.sgml",
        "SDA.940618.0021",
        "WM: Deutschland schlägt Bolivien",
        "Im Eröffnungsspiel der Fußball-Weltmeisterschaft in Chicago hat Titelverteidiger Deutschland Bolivien "
        "mit 1:0 besiegt. Jürgen Klinsmann erzielte das einzige Tor.",
    ),
    (
        "sda/sda94.sgml",
        "SDA.940302.0007",
        "Zürcher Börse schliesst fester",
        "An der Zürcher Börse haben die Aktien der Grossbanken am Mittwoch deutlich zugelegt. Auch die Titel der "
        "Versicherungen wurden gesucht.",
    ),
    (
        "sda/sda94.sgml",
        "SDA.940412.0015",
        "Lawinengefahr in den Alpen",
        "Das Institut für Schnee- und Lawinenforschung in Davos warnt vor erheblicher Lawinengefahr in den "
        "Walliser Alpen. Skitouren abseits der Pisten sind gefährlich.",
    ),
]

_CLEF_QRELS_DE = [
    ("141", "FR950130-001", 1),
    ("141", "SDA.950131.0012", 1),
    ("141", "FR950203-005", 0),
    ("141", "SDA.940302.0007", 0),
    ("142", "FR940507-002", 1),
    ("142", "SDA.941114.0034", 1),
    ("142", "FR940610-004", 0),
    ("143", "FR940718-003", 1),
    ("143", "SDA.940618.0021", 1),
    ("143", "SDA.940412.0015", 0),
]

CLEF_FIXTURE_RELEVANT = {q: {d for qq, d, r in _CLEF_QRELS_DE if qq == q and r > 0} for q in ("141", "142", "143")}


def write_clef_fixture(root: Path, pair: str = "en-de", *, encoding: str = "utf-8") -> Path:
    """Write a CLEF 2003 en-de collection in the default layout of :mod:`clir_rag.eval.clef`; returns ``root``.

    Three English topics (C141-C143), ten German news documents in two SGML files
    (each topic has two relevant documents and a judged non-relevant one) and the
    qrels. ``encoding="latin-1"`` writes every file in ISO-8859-1, as the ELRA
    distribution does, for testing the ``encoding`` option. Only en-de has fixture texts.
    """
    qlang, dlang = clef_pair(pair)
    if (qlang, dlang) != ("en", "de"):
        raise InputError(f"the CLEF fixture has English topics and German documents only (pair en-de), not {pair}")
    root = Path(root)
    topics, qrels, collection = clef_paths(pair, root)
    for path in (topics, qrels):
        path.parent.mkdir(parents=True, exist_ok=True)
    topics.write_text(_CLEF_TOPICS_EN, encoding=encoding)
    files: dict[str, list[str]] = {}
    for name, docno, title, text in _CLEF_DOCS_DE:
        files.setdefault(name, []).append(
            f"<DOC>\n<DOCNO>{docno}</DOCNO>\n<DOCID>{docno.lower()}</DOCID>\n<TITLE>{title}</TITLE>\n"
            f"<TEXT>\n{text}\n</TEXT>\n</DOC>\n"
        )
    for name, records in files.items():
        path = collection / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(records), encoding=encoding)
    qrels.write_text("".join(f"{q} 0 {d} {r}\n" for q, d, r in _CLEF_QRELS_DE), encoding=encoding)
    return root


# --- CIRAL (sw) -------------------------------------------------------------------------------------------------

_CIRAL_TOPICS_SW = [
    ("1", "What causes malaria and how is it spread?", "Malaria husababishwa na nini na huenezwa vipi?"),
    (
        "2",
        "Who won the 2022 presidential election in Kenya?",
        "Nani alishinda uchaguzi wa urais wa Kenya mwaka 2022?",
    ),
    ("3", "What is the tallest mountain in Africa?", "Mlima mrefu zaidi barani Afrika ni upi?"),
    (
        "4",
        "Why is tea farming important to the economy of Kenya?",
        "Kilimo cha chai kina umuhimu gani kwa uchumi wa Kenya?",
    ),
]

# (docid, title, text, relevant to topic or None, judged non-relevant for topic or None)
_CIRAL_PASSAGES_SW = [
    (
        "TUKO#1#0",
        "Ukweli kuhusu malaria",
        "Malaria ni ugonjwa unaosababishwa na vimelea vya Plasmodium. Ugonjwa huu huenezwa na mbu jike aina ya "
        "Anopheles anapomuuma binadamu.",
        "1",
        None,
    ),
    (
        "VOA#2#1",
        "Vyandarua vyagawiwa kupambana na malaria",
        "Wizara ya Afya imesambaza vyandarua vilivyotiwa dawa ili kupunguza maambukizi ya malaria, hasa kwa watoto "
        "na wanawake wajawazito katika maeneo ya Ziwa Victoria.",
        "1",
        None,
    ),
    (
        "TAIFALEO#3#0",
        "Homa ya dengue yaongezeka pwani",
        "Homa ya dengue huenezwa na mbu aina ya Aedes, wanaouma mchana. Wagonjwa wengi wameripotiwa katika "
        "hospitali za Mombasa.",
        None,
        "1",
    ),
    (
        "TUKO#4#0",
        "Ruto atangazwa mshindi",
        "William Ruto alitangazwa mshindi wa uchaguzi wa urais wa mwaka 2022 nchini Kenya na Tume Huru ya "
        "Uchaguzi na Mipaka (IEBC), baada ya kupata asilimia 50.49 ya kura.",
        "2",
        None,
    ),
    (
        "VOA#5#2",
        "Mahakama ya Juu yathibitisha ushindi wa Ruto",
        "Mahakama ya Juu iliidhinisha ushindi wa Rais William Ruto, ikitupilia mbali kesi iliyowasilishwa na "
        "Raila Odinga kupinga matokeo ya uchaguzi.",
        "2",
        None,
    ),
    (
        "MTANZANIA#6#0",
        "Kilimanjaro, paa la Afrika",
        "Mlima Kilimanjaro, ulioko kaskazini mwa Tanzania, ndio mlima mrefu zaidi barani Afrika, ukiwa na urefu wa "
        "mita 5,895 juu ya usawa wa bahari.",
        "3",
        None,
    ),
    (
        "MTANZANIA#7#1",
        "Watalii wamiminika Kilimanjaro",
        "Maelfu ya watalii hupanda Mlima Kilimanjaro kila mwaka hadi kilele cha Uhuru, na utalii huo huingiza "
        "fedha nyingi katika uchumi wa Tanzania.",
        "3",
        None,
    ),
    (
        "BBC#8#0",
        "Chai ya Kenya sokoni duniani",
        "Chai ni moja ya mazao makuu ya biashara nchini Kenya, na huingiza fedha nyingi za kigeni kila mwaka. "
        "Kenya ni miongoni mwa nchi zinazouza chai nyingi zaidi duniani.",
        "4",
        None,
    ),
    (
        "TUKO#9#3",
        "Wakulima wa chai walalamikia bei",
        "Wakulima wadogo wa chai katika kaunti ya Kericho wanalalamikia bei ya chini ya majani chai inayolipwa na "
        "viwanda vya KTDA, wakisema mapato yao hayatoshi kuendesha familia zao.",
        "4",
        None,
    ),
    (
        "TAIFALEO#10#0",
        "Taifa Stars yafuzu AFCON",
        "Timu ya taifa ya Tanzania, Taifa Stars, ilifuzu kushiriki michuano ya Kombe la Mataifa ya Afrika baada "
        "ya sare dhidi ya Algeria.",
        None,
        None,
    ),
    (
        "BBC#11#0",
        "M-Pesa yatimiza miaka kumi na sita",
        "Huduma ya M-Pesa ya kutuma na kupokea pesa kwa simu ya mkononi ilizinduliwa na Safaricom mwaka 2007 na "
        "sasa inatumiwa na mamilioni ya Wakenya.",
        None,
        "4",
    ),
    (
        "VOA#12#0",
        "Mvua kubwa yatabiriwa pwani",
        "Mamlaka ya Hali ya Hewa imetabiri mvua kubwa katika maeneo ya pwani wiki hii, na wakazi wameshauriwa "
        "kuchukua tahadhari dhidi ya mafuriko.",
        None,
        None,
    ),
]

CIRAL_FIXTURE_RELEVANT = {q: {d for d, _, _, rel, _ in _CIRAL_PASSAGES_SW if rel == q} for q, _, _ in _CIRAL_TOPICS_SW}


def write_ciral_fixture(root: Path, lang: str = "sw") -> tuple[Path, Path]:
    """Write a CIRAL-format data folder and passage JSONL; returns ``(data_dir, corpus_path)``.

    ``data_dir`` holds ``topics/`` (English and ``-native`` Swahili test-a topics) and ``qrels/``
    (``test-a-pools`` and ``test-a``) with the published names, ready for
    ``load_ciral("sw", data_dir=data_dir, corpus=corpus_path)``. Four queries on distinct
    topics, twelve Swahili passages: two relevant per query, hard negatives judged 0,
    and unjudged distractors. Only Swahili has fixture texts.
    """
    if lang != "sw":
        raise InputError(f"the CIRAL fixture has Swahili passages only (lang='sw'), not {lang!r}")
    data_dir = Path(root) / "ciral"
    (data_dir / "topics").mkdir(parents=True, exist_ok=True)
    (data_dir / "qrels").mkdir(parents=True, exist_ok=True)
    prefix = f"ciral-v1.0-{lang}-test-a"
    # The published files end without a final newline; so do these.
    (data_dir / "topics" / f"topics.{prefix}.tsv").write_text(
        "\n".join(f"{q}\t{en}" for q, en, _ in _CIRAL_TOPICS_SW), encoding="utf-8"
    )
    (data_dir / "topics" / f"topics.{prefix}-native.tsv").write_text(
        "\n".join(f"{q}\t{native}" for q, _, native in _CIRAL_TOPICS_SW), encoding="utf-8"
    )
    pools = [f"{rel}\tQ0\t{d}\t1" for d, _, _, rel, _ in _CIRAL_PASSAGES_SW if rel]
    pools += [f"{neg}\tQ0\t{d}\t0" for d, _, _, _, neg in _CIRAL_PASSAGES_SW if neg]
    (data_dir / "qrels" / f"qrels.{prefix}-pools.tsv").write_text("\n".join(sorted(pools)), encoding="utf-8")
    shallow = [line for line in sorted(pools) if line.endswith("\t1")]  # test-a: fewer judgements than the pools
    (data_dir / "qrels" / f"qrels.{prefix}.tsv").write_text("\n".join(shallow), encoding="utf-8")
    corpus = Path(root) / f"ciral-{lang}-passages.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for docid, title, text, _, _ in _CIRAL_PASSAGES_SW:
            url = f"https://example.org/{docid.split('#')[0].lower()}/{docid.split('#')[1]}"
            fh.write(json.dumps({"docid": docid, "title": title, "text": text, "url": url}, ensure_ascii=False))
            fh.write("\n")
    return data_dir, corpus
