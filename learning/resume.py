"""A new resume link for a learner who lost theirs ("email me a new link").

No account enumeration: the request page does the same work and gives the same answer whether
or not the address is enrolled. It only checks the address's form, counts the request (per
source address and per email address, `core.throttle`: keyed tags, nothing stored); the view
queues a task with the address's blind index (a keyed hash, the one stored on learners; the address
itself never goes to the broker). The task finds the learners of that module with that index,
gives each a new token (the old link stops working: a lost link may have been found by
someone else) and emails the links to the address unsealed from the learner's own row. An
unknown address: nothing is sent.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from core.crypto import blind_index
from core.errors import InvalidInput
from core.throttle import hit, source_tag
from learning.contacts import contact_unseal, email_checked
from learning.models import Learner, Module
from learning.selectors import token_hash

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
DEFAULT_PER_SOURCE_PER_HOUR = 10
DEFAULT_PER_ADDRESS_PER_HOUR = 3
DONE_TTL = 24 * 3600


class TooManyRequests(Exception):
    """Over the hourly limit for this source or this address (the same for known and unknown
    addresses, so it tells nothing about enrolment)."""


def email_index(email: str, *, module_id: int) -> str:
    """The blind index learners' emails are stored under (one purpose per module)."""
    return blind_index(email, purpose=f"learning:email:{module_id}")


def _email(raw: str) -> str:
    email = email_checked(raw)
    if not email:
        raise InvalidInput("Enter the email address you gave when you started.", field="email")
    return email


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _allowed(module: Module, source: str, index: str, at: datetime | None) -> bool:
    by_source = hit(f"learning:new-link:source:{source_tag(source, namespace='learning', at=at)}",
                    limit=_limit("LEARNING_NEW_LINKS_PER_SOURCE_PER_HOUR",
                                 DEFAULT_PER_SOURCE_PER_HOUR), window=WINDOW_SECONDS)
    by_address = hit(f"learning:new-link:address:{module.pk}:"
                     f"{source_tag(index, namespace='learning', at=at)}",
                     limit=_limit("LEARNING_NEW_LINKS_PER_ADDRESS_PER_HOUR",
                                  DEFAULT_PER_ADDRESS_PER_HOUR), window=WINDOW_SECONDS)
    return by_source and by_address


def new_link_request(*, module: Module, email: str, source: str,
                     at: datetime | None = None) -> tuple[int, str, str]:
    """Check and count a request; the arguments of the `learning.new_links_send` task the
    caller queues (the view, on commit). InvalidInput for a malformed address, TooManyRequests
    over the limits. The same work and the same outcome for an enrolled and an unknown
    address."""
    index = email_index(_email(email), module_id=module.pk)
    if not _allowed(module, source, index, at):
        raise TooManyRequests
    return module.pk, index, uuid.uuid4().hex


def _home_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("learning:home", args=[token])


@transaction.atomic
def new_links_send(*, module_id: int, index: str, request_id: str) -> int:
    """Give the module's learners under `index` new tokens and email the links; returns how
    many. Runs once per request id (a redelivered task sends nothing twice)."""
    if not cache.add(f"learning:new-link:done:{request_id}", 1, timeout=DONE_TTL):
        return 0
    learners = list(Learner.objects.select_for_update().select_related("module")
                    .filter(module_id=module_id, email_index=index)
                    .exclude(email_sealed="").order_by("-enrolled_at"))
    email = next((address for learner in learners if (address := contact_unseal(
        learner.data_key, learner.email_sealed, organisation_id=learner.organisation_id,
        purpose="email"))), "")
    if not email:
        return 0
    links = []
    for learner in learners:
        token = secrets.token_urlsafe(32)
        Learner.objects.filter(pk=learner.pk).update(token_hash=token_hash(token))
        links.append(_home_url(token))
    title = learners[0].module.title
    transaction.on_commit(lambda: _send(email, title, links))
    return len(links)


def _send(email: str, title: str, links: list[str]) -> None:
    lines = "\n".join(links)
    several = ("\n\nYou started this module more than once: each link continues one of them, "
               "the most recent first." if len(links) > 1 else "")
    try:
        send_mail(subject=f"Your new link to continue: {title}",
                  message=(f"You asked for a new link to '{title}'. Continue where you left "
                           f"off:\n\n{lines}{several}\n\nYour earlier link no longer works. "
                           "Keep this one private: anyone with it can see your progress. If "
                           "you did not ask for it, you can ignore this message."),
                  from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[email])
    except (OSError, ValueError) as error:
        logger.warning("new resume link not sent: %s", type(error).__name__)
