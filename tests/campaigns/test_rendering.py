"""The message sandbox: escaping, refused variables and tags, plain text, SMS segments."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from campaigns.models import Message
from campaigns.rendering import (
    RenderError,
    build_render_context,
    message_validate,
    render_message,
    sample_context,
    sms_measure,
)
from tests.campaigns.factories import CampaignFactory


def message(body: str, subject: str = "", channel: str = "email") -> Message:
    return Message(name="m", channel=channel, language="en", framing="help_therapeutic",
                   body=body, subject=subject)


def test_variables_are_html_escaped_in_the_html_part() -> None:
    context = sample_context(organisation_name='<script>alert("x")</script> & Co')
    rendered = render_message(message=message("<p>From {{ organisation_name }}</p>"),
                              context=context)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert rendered.text == 'From <script>alert("x")</script> & Co'


def test_an_email_gets_a_plain_text_part_with_links_spelled_out() -> None:
    body = '<p>Confidential help:</p><p><a href="{{ help_link }}">talk to someone</a></p>'
    rendered = render_message(message=message(body, subject="Help for {{ country }}"),
                              context=sample_context())
    assert rendered.text == ("Confidential help:\n"
                             "talk to someone (https://example.org/go/sample)")
    assert rendered.subject == "Help for GB"


def test_a_plain_text_body_becomes_paragraphs_in_html_and_stays_as_written_in_text() -> None:
    body = "Worried about your thoughts?\n\nCall {{ help_resources.0.phone }}."
    rendered = render_message(message=message(body), context=sample_context())
    assert rendered.text == "Worried about your thoughts?\n\nCall +440000000000."
    assert rendered.html == "<p>Worried about your thoughts?</p>\n\n<p>Call +440000000000.</p>"


def test_help_resources_can_be_listed_with_open_ones_marked() -> None:
    body = ("{% for r in help_resources %}{{ forloop.counter }}. {{ r.name }}"
            "{% if r.open_now %} (open now){% endif %}\n{% endfor %}")
    rendered = render_message(message=message(body, channel="sms"), context=sample_context())
    assert rendered.text == "1. Example confidential helpline (open now)"


def test_the_legal_notice_is_in_the_context() -> None:
    body = "{% for s in legal_notice.statutes %}{{ s.name }} {{ s.section }}{% endfor %}"
    rendered = render_message(message=message(body), context=sample_context())
    assert rendered.text == "Example Act s.1"


def test_an_unknown_variable_is_refused_at_validation_and_at_render() -> None:
    bad = message("Hello {{ first_name }}")
    assert message_validate(bad) == ["body: unknown variable 'first_name'"]
    with pytest.raises(RenderError, match="first_name"):
        render_message(message=bad, context=sample_context())


def test_an_unknown_field_of_a_help_resource_is_refused() -> None:
    bad = message("{% for r in help_resources %}{{ r.email }}{% endfor %}")
    assert message_validate(bad) == ["body: unknown variable 'r.email'"]


def test_an_unknown_variable_in_the_subject_is_named_as_such() -> None:
    assert message_validate(message("ok", subject="{{ recipient.name }}")) == [
        "subject: unknown variable 'recipient'"]


@pytest.mark.parametrize("body, name", [
    ("{% load static %}", "load"),
    ('{% include "base.html" %}', "include"),
    ("{{ help_link|safe }}", "safe"),
    ("{{ help_link|urlize }}", "urlize"),
    ("{% debug %}", "debug"),
    ("{% url 'admin:index' %}", "url"),
])
def test_tags_and_filters_outside_the_sandbox_are_refused(body: str, name: str) -> None:
    assert message_validate(message(body)) == [f"body: '{name}' is not allowed in a message "
                                               "template"]


def test_a_template_with_broken_syntax_is_refused_with_the_reason() -> None:
    problems = message_validate(message("{% if help_link %}unclosed"))
    assert len(problems) == 1 and problems[0].startswith("body: template syntax error")


def test_a_valid_template_has_no_problems() -> None:
    body = ("{% with first=help_resources.0 %}{{ first.name|upper }}{% endwith %} "
            "{{ opt_out_link|default:'' }} {{ referral_code }} {{ language }}")
    assert message_validate(message(body)) == []


def test_gsm7_sms_of_160_characters_is_one_segment_and_161_is_two() -> None:
    assert sms_measure("a" * 160) == ("GSM-7", 160, 1)
    assert sms_measure("a" * 161) == ("GSM-7", 161, 2)
    assert sms_measure("a" * 306) == ("GSM-7", 306, 2)
    assert sms_measure("a" * 307) == ("GSM-7", 307, 3)


def test_gsm7_extension_characters_count_twice() -> None:
    assert sms_measure("€" * 80) == ("GSM-7", 160, 1)
    assert sms_measure("€" * 81) == ("GSM-7", 162, 2)


def test_a_character_outside_gsm7_switches_to_ucs2_segments_of_70_and_67() -> None:
    assert sms_measure("ł" * 70) == ("UCS-2", 70, 1)
    assert sms_measure("ł" * 71) == ("UCS-2", 71, 2)
    assert sms_measure("a" * 133 + "ł") == ("UCS-2", 134, 2)
    assert sms_measure("a" * 134 + "ł") == ("UCS-2", 135, 3)


def test_an_emoji_counts_as_two_ucs2_units() -> None:
    assert sms_measure("\N{SMILING FACE WITH SMILING EYES}") == ("UCS-2", 2, 1)


def test_render_reports_sms_length_and_segments() -> None:
    rendered = render_message(message=message("a" * 200, channel="sms"),
                              context=sample_context())
    assert (rendered.sms_length, rendered.sms_segments, rendered.sms_encoding) == \
        (200, 2, "GSM-7")


@pytest.mark.django_db
def test_the_render_context_uses_the_directory_and_signs_every_help_link() -> None:
    campaign = CampaignFactory()
    resources = [SimpleNamespace(name="Stop It Now helpline", phone="+448081000900",
                                 url="https://www.stopitnow.org.uk/helpline/", open_now=True,
                                 kind="helpline", pk=7)]
    notice = SimpleNamespace(jurisdiction="GB-ENG", statutes=[
        {"name": "Protection of Children Act 1978", "section": "s.1(1)",
         "offence_summary": "summary", "max_penalty": "10 years"}])
    with mock.patch("campaigns.rendering.help_resources_for",
                    return_value=resources) as helpers, \
            mock.patch("campaigns.rendering.legal_notice_for",
                       return_value=notice):
        context = build_render_context(
            campaign=campaign, country="GB", language="en", stage="at_risk",
            link_signer=lambda r: f"https://outreach.example/go/signed-{r.pk}",
            opt_out_url="https://outreach.example/opt-out/x")
    assert helpers.call_args.kwargs["country"] == "GB"
    assert context.help_link == "https://outreach.example/go/signed-7"
    assert context.help_resources[0]["url"] == "https://outreach.example/go/signed-7"
    assert context.legal_notice["statutes"][0]["summary"] == "summary"
    assert context.referral_code == campaign.referral_code


def test_a_plain_text_body_links_each_help_address_under_the_resource_name() -> None:
    body = "Confidential help: {{ help_link }}\n\nStop these emails: {{ opt_out_link }}"
    context = sample_context()
    rendered = render_message(message=message(body), context=context)
    first = context.help_resources[0]
    assert f'<a href="{first["url"]}">{first["name"]}</a>' in rendered.html
    assert f'<a href="{context.opt_out_link}">Unsubscribe</a>' in rendered.html
    assert rendered.html.count(first["url"]) == 1  # the address is the target, not the text
    assert first["url"] in rendered.text  # the plain-text part keeps it spelled out
