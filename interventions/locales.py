"""Country and language codes a partner may send (the fallback chain is core.locales)."""

from __future__ import annotations

import re

# ISO 3166-1 alpha-2 (officially assigned codes, plus XK which many platforms use for Kosovo).
_COUNTRY_TEXT = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
ZW XK
"""
COUNTRIES = frozenset(_COUNTRY_TEXT.split())

# ISO 639-1.
_LANGUAGE_TEXT = """
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da
de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy
hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg
li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or
os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta
te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
LANGUAGES = frozenset(_LANGUAGE_TEXT.split())

_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2})(?:[-_]([A-Za-z]{2}|\d{3}))?")


def normalise_country(value: str) -> str | None:
    """'gb' -> 'GB'; None when it is not an ISO 3166-1 alpha-2 code."""
    code = value.strip().upper()
    return code if code in COUNTRIES else None


def normalise_language(value: str) -> str | None:
    """'en', 'en-gb', 'pt_BR' -> 'en', 'en-GB', 'pt-BR'; None when the language is unknown."""
    match = _LANGUAGE_TAG.fullmatch(value.strip())
    if not match or match.group(1).lower() not in LANGUAGES:
        return None
    base, region = match.group(1).lower(), match.group(2)
    return f"{base}-{region.upper()}" if region else base
