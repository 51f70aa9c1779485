"""The language fallback chain: the one rule for which language of a message to show.

Used by the intervention answer (interventions/services.py), the fan-out of scheduled sends
(delivery/fanout.py), campaign reads (campaigns/selectors.py) and lessons (learning). Pure: no
Django, no database.
"""

from __future__ import annotations

from collections.abc import Iterable

# The programme's default language: the last resort of every chain.
DEFAULT_LANGUAGE = "en"


def language_chain(requested: str | None, campaign_languages: Iterable[str] = (),
                   default: str = DEFAULT_LANGUAGE) -> list[str]:
    """Where to look for a message, most specific first, without repeats or blanks:
    the requested language, its base, the campaign's languages in their order, the default.

    'de-AT', ['fr', 'de'] -> ['de-AT', 'de', 'fr', 'en'].
    """
    chain: list[str] = []
    if requested:
        chain.append(requested)
        chain.append(requested.split("-", 1)[0])
    chain.extend(campaign_languages or ())
    chain.append(default)
    return list(dict.fromkeys(code for code in chain if code))
