"""Language codes, normalised in one place.

Every language code that enters clir-rag (corpus records, queries, CLI flags,
model families) goes through :func:`normalize_language`, which accepts
ISO 639-1 (``de``), ISO 639-3 (``deu``, ``swh``), ISO 639-2/B (``ger``),
FLORES-200 (``deu_Latn``), BCP-47 tags (``zh-TW``, ``sr-Latn``) and English
names (``German``), and returns one canonical code: ISO 639-1 where the
language has one, ISO 639-3 otherwise. Translation models ask for their own
code families (NLLB's FLORES-200) through :func:`to_flores`.

Documents that carry no language are identified with lingua
(:func:`detect_language`), offline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import lru_cache

from clir_rag.errors import LanguageError

# canonical | ISO 639-3 | FLORES-200 (NLLB) | English name | other codes that mean the same language
_TABLE = """
af|afr|afr_Latn|Afrikaans|
am|amh|amh_Ethi|Amharic|
ar|ara|arb_Arab|Arabic|arb
as|asm|asm_Beng|Assamese|
ast|ast|ast_Latn|Asturian|
az|aze|azj_Latn|Azerbaijani|azj
ba|bak|bak_Cyrl|Bashkir|
be|bel|bel_Cyrl|Belarusian|
bg|bul|bul_Cyrl|Bulgarian|
bn|ben|ben_Beng|Bengali|
br|bre||Breton|
bs|bos|bos_Latn|Bosnian|
ca|cat|cat_Latn|Catalan|
ceb|ceb|ceb_Latn|Cebuano|
cs|ces|ces_Latn|Czech|cze
cy|cym|cym_Latn|Welsh|wel
da|dan|dan_Latn|Danish|
de|deu|deu_Latn|German|ger
el|ell|ell_Grek|Greek|gre
en|eng|eng_Latn|English|
eo|epo|epo_Latn|Esperanto|
es|spa|spa_Latn|Spanish|
et|est|est_Latn|Estonian|ekk
eu|eus|eus_Latn|Basque|baq
fa|fas|pes_Arab|Persian|per,pes
fi|fin|fin_Latn|Finnish|
fo|fao|fao_Latn|Faroese|
fr|fra|fra_Latn|French|fre
fy|fry||Western Frisian|
ga|gle|gle_Latn|Irish|
gd|gla|gla_Latn|Scottish Gaelic|
gl|glg|glg_Latn|Galician|
gu|guj|guj_Gujr|Gujarati|
ha|hau|hau_Latn|Hausa|
he|heb|heb_Hebr|Hebrew|iw
hi|hin|hin_Deva|Hindi|
hr|hrv|hrv_Latn|Croatian|
ht|hat|hat_Latn|Haitian Creole|
hu|hun|hun_Latn|Hungarian|
hy|hye|hye_Armn|Armenian|arm
id|ind|ind_Latn|Indonesian|in
ig|ibo|ibo_Latn|Igbo|
is|isl|isl_Latn|Icelandic|ice
it|ita|ita_Latn|Italian|
ja|jpn|jpn_Jpan|Japanese|
jv|jav|jav_Latn|Javanese|
ka|kat|kat_Geor|Georgian|geo
kk|kaz|kaz_Cyrl|Kazakh|
km|khm|khm_Khmr|Khmer|
kn|kan|kan_Knda|Kannada|
ko|kor|kor_Hang|Korean|
ku|kur|kmr_Latn|Kurdish|kmr
ky|kir|kir_Cyrl|Kyrgyz|
la|lat||Latin|
lb|ltz|ltz_Latn|Luxembourgish|
lg|lug|lug_Latn|Ganda|
ln|lin|lin_Latn|Lingala|
lo|lao|lao_Laoo|Lao|
lt|lit|lit_Latn|Lithuanian|
lv|lav|lvs_Latn|Latvian|lvs
mg|mlg|plt_Latn|Malagasy|plt
mi|mri|mri_Latn|Maori|mao
mk|mkd|mkd_Cyrl|Macedonian|mac
ml|mal|mal_Mlym|Malayalam|
mn|mon|khk_Cyrl|Mongolian|khk
mr|mar|mar_Deva|Marathi|
ms|msa|zsm_Latn|Malay|may,zsm
mt|mlt|mlt_Latn|Maltese|
my|mya|mya_Mymr|Burmese|bur
nb|nob|nob_Latn|Norwegian Bokmål|no,nor
ne|nep|npi_Deva|Nepali|npi
nl|nld|nld_Latn|Dutch|dut
nn|nno|nno_Latn|Norwegian Nynorsk|
oc|oci|oci_Latn|Occitan|
om|orm|gaz_Latn|Oromo|gaz
or|ori|ory_Orya|Odia|ory
pa|pan|pan_Guru|Punjabi|
pl|pol|pol_Latn|Polish|
ps|pus|pbt_Arab|Pashto|pbt
pt|por|por_Latn|Portuguese|
ro|ron|ron_Latn|Romanian|rum,mo
ru|rus|rus_Cyrl|Russian|
rw|kin|kin_Latn|Kinyarwanda|
sa|san|san_Deva|Sanskrit|
sd|snd|snd_Arab|Sindhi|
si|sin|sin_Sinh|Sinhala|
sk|slk|slk_Latn|Slovak|slo
sl|slv|slv_Latn|Slovenian|
sn|sna|sna_Latn|Shona|
so|som|som_Latn|Somali|
sq|sqi|als_Latn|Albanian|alb,als
sr|srp|srp_Cyrl|Serbian|
st|sot|sot_Latn|Southern Sotho|
su|sun|sun_Latn|Sundanese|
sv|swe|swe_Latn|Swedish|
sw|swa|swh_Latn|Swahili|swh
ta|tam|tam_Taml|Tamil|
te|tel|tel_Telu|Telugu|
tg|tgk|tgk_Cyrl|Tajik|
th|tha|tha_Thai|Thai|
ti|tir|tir_Ethi|Tigrinya|
tk|tuk|tuk_Latn|Turkmen|
tl|tgl|tgl_Latn|Tagalog|fil
tn|tsn|tsn_Latn|Tswana|
tr|tur|tur_Latn|Turkish|
ts|tso|tso_Latn|Tsonga|
tt|tat|tat_Cyrl|Tatar|
ug|uig|uig_Arab|Uyghur|
uk|ukr|ukr_Cyrl|Ukrainian|
ur|urd|urd_Arab|Urdu|
uz|uzb|uzn_Latn|Uzbek|uzn
vi|vie|vie_Latn|Vietnamese|
wo|wol|wol_Latn|Wolof|
xh|xho|xho_Latn|Xhosa|
yi|yid|ydd_Hebr|Yiddish|ydd,ji
yo|yor|yor_Latn|Yoruba|
yue|yue|yue_Hant|Cantonese|
zh|zho|zho_Hans|Chinese|chi,cmn
zu|zul|zul_Latn|Zulu|
"""

# BCP-47 regions that imply Traditional Chinese script.
_HANT_REGIONS = {"tw", "hk", "mo"}


@dataclass(frozen=True)
class LanguageInfo:
    """One language: its canonical code, its codes in other families, and its script."""

    code: str
    iso639_3: str
    flores: str | None
    name: str
    script: str | None

    @property
    def iso639_1(self) -> str | None:
        """The two-letter code, or None for languages that have only a three-letter one."""
        return self.code if len(self.code) == 2 else None


def _build_tables() -> tuple[dict[str, LanguageInfo], dict[str, str]]:
    infos: dict[str, LanguageInfo] = {}
    aliases: dict[str, str] = {}
    for line in _TABLE.strip().splitlines():
        code, iso3, flores, name, extra = line.split("|")
        script = flores.split("_")[1] if flores else None
        infos[code] = LanguageInfo(code, iso3, flores or None, name, script)
        for alias in [code, iso3, name.lower(), *(a for a in extra.split(",") if a)]:
            aliases[alias] = code
        if flores:
            aliases[flores.lower()] = code
            aliases[flores.split("_")[0]] = code
    return infos, aliases


_INFOS, _ALIASES = _build_tables()
# ISO 15924 scripts accepted in tags: every script of the table, plus the usual alternates.
_SCRIPTS = {i.script for i in _INFOS.values() if i.script} | {"Latn", "Cyrl", "Arab", "Hans", "Hant"}


def _split_tag(code: str) -> tuple[str, str | None]:
    """Split ``zh-Hant-TW`` / ``deu_Latn`` into a base code and a script (or None)."""
    if not isinstance(code, str) or not code.strip():
        raise LanguageError(f"language code must be a non-empty string, got {code!r}")
    raw = code.strip()
    lowered = raw.lower()
    if lowered in _ALIASES:  # whole string is a known code or name (e.g. "norwegian bokmål")
        return lowered, None
    parts = lowered.replace("_", "-").split("-")
    base, script = parts[0], None
    if len(parts) > 1 and len(parts[1]) == 3 and parts[1].isalpha() and parts[1] in _ALIASES:
        base = parts[1]  # a BCP-47 extended language subtag names the language itself: zh-yue is Cantonese
    for sub in parts[1:]:
        if len(sub) == 4 and sub.isalpha():
            script = sub.title()
        elif sub in _HANT_REGIONS and base in {"zh", "zho", "chi", "cmn"}:
            script = script or "Hant"
    return base, script


@lru_cache(maxsize=4096)
def get_language(code: str) -> LanguageInfo:
    """Return the :class:`LanguageInfo` for any supported spelling of a language.

    Raises :class:`LanguageError` naming the code when it is unknown.
    """
    base, script = _split_tag(code)
    canonical = _ALIASES.get(base)
    if canonical is None:
        raise LanguageError(
            f"unknown language code {code!r}: use ISO 639-1 (e.g. 'de'), ISO 639-3 ('deu'), "
            f"or FLORES-200 ('deu_Latn'); see clir_rag.languages.supported_languages()"
        )
    info = _INFOS[canonical]
    if script and script not in _SCRIPTS:
        raise LanguageError(f"unknown script {script!r} in language code {code!r}")
    if script and script != info.script:
        flores = f"{info.flores.split('_')[0]}_{script}" if info.flores else None
        info = replace(info, script=script, flores=flores)
    return info


def normalize_language(code: str) -> str:
    """Canonical code (ISO 639-1 where it exists, else ISO 639-3) of any supported spelling."""
    return get_language(code).code


def to_flores(code: str) -> str:
    """FLORES-200 code (as NLLB uses, e.g. ``swh_Latn``) for a language."""
    info = get_language(code)
    if info.flores is None:
        raise LanguageError(f"language {code!r} ({info.name}) has no FLORES-200 code")
    return info.flores


def is_known_language(code: str) -> bool:
    """Whether ``code`` (any spelling :func:`normalize_language` accepts) is a language clir-rag knows."""
    try:
        get_language(code)
    except LanguageError:
        return False
    return True


def supported_languages() -> list[str]:
    """Canonical codes of every language clir-rag knows."""
    return sorted(_INFOS)


# lingua's detector loads its models lazily; building it is cheap but not free,
# so one detector is shared by the process.
_detector = None
_detector_lock = threading.Lock()


def _get_detector():
    global _detector
    with _detector_lock:
        if _detector is None:
            from lingua import LanguageDetectorBuilder

            _detector = LanguageDetectorBuilder.from_all_languages().build()
    return _detector


def detect_language(text: str) -> str | None:
    """Canonical code of the language of ``text``, or None when lingua cannot tell."""
    if not text or not text.strip():
        return None
    found = _get_detector().detect_language_of(text)
    if found is None:
        return None
    return normalize_language(found.iso_code_639_1.name.lower())


def language_confidences(text: str, top: int = 3) -> list[tuple[str, float]]:
    """The ``top`` most likely languages of ``text`` with lingua's confidence (0..1), most likely first.

    Short texts with foreign names spread the confidence thinly ("He was born in Smiljan." is
    Swedish at 0.095), so callers that judge a language should look at the value, not just the winner.
    """
    if not text or not text.strip():
        return []
    values = _get_detector().compute_language_confidence_values(text)[:top]
    return [(normalize_language(v.language.iso_code_639_1.name.lower()), float(v.value)) for v in values]
