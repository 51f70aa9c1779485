"""The one language fallback chain (core/locales.py) and the paths that must use it."""

from pathlib import Path

from core.locales import DEFAULT_LANGUAGE, language_chain

ROOT = Path(__file__).resolve().parents[2]


def test_it_tries_the_requested_language_then_its_base_then_the_campaign_then_the_default() -> None:
    assert language_chain("de-AT", ["fr", "de"], "en") == ["de-AT", "de", "fr", "en"]


def test_it_keeps_the_campaign_languages_in_their_order_before_the_default() -> None:
    assert language_chain("pt", ["es", "en", "pt"], "en") == ["pt", "es", "en"]


def test_it_drops_blanks_and_repeats() -> None:
    assert language_chain("", ["", "nl", "nl"], "en") == ["nl", "en"]
    assert language_chain(None) == [DEFAULT_LANGUAGE]


def test_the_default_is_last_even_when_not_english() -> None:
    assert language_chain("sv", [], "fi") == ["sv", "fi"]


def test_no_other_module_defines_a_language_chain() -> None:
    """One rule, one place: the hot paths import this function instead of keeping a copy."""
    sources = [path for path in ROOT.glob("*/**/*.py")
               if ".venv" not in path.parts and "tests" not in path.parts]
    defining = [str(path.relative_to(ROOT)) for path in sources
                if "def language_chain" in path.read_text(encoding="utf-8")]
    assert defining == ["core/locales.py"]
    for user in ("interventions/services.py", "campaigns/selectors.py"):
        assert "from core.locales import language_chain" in _text(user), user
    # Scheduled sends pick their message through campaigns.selectors, which builds the chain.
    assert "message_in_language(" in _text("delivery/fanout.py")


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")
