"""Four eyes: the one rule for who may approve content (campaigns, learning modules).

Content that reaches the public is signed off by a second person: a reviewer or manager of the
owning organisation who neither wrote nor submitted it. Every app that reviews content asks
`four_eyes_refusal` instead of repeating the rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from organisations.models import Membership, Organisation, Role
from organisations.services import Actor

REVIEW_ROLES = (Role.REVIEWER, Role.MANAGER)


def four_eyes_refusal(*, organisation: Organisation, actor: Actor,
                      author_ids: Iterable[int | None], noun: str) -> str | None:
    """Why `actor` may not approve this `noun`, or None when they may.

    `author_ids`: the users who wrote or submitted the content (None entries are ignored).
    """
    user = actor.signed_in_user
    if user is None:
        return "Approval needs a signed-in reviewer (an API key cannot approve)."
    if user.pk in {pk for pk in author_ids if pk is not None}:
        return (f"The author of a {noun} cannot approve it: another reviewer must "
                "(four eyes).")
    is_reviewer = Membership.objects.filter(user=user, organisation=organisation,
                                            role__in=REVIEW_ROLES).exists()
    if not (is_reviewer or user.is_superuser):
        return f"Only a reviewer or manager of the organisation can approve {noun}s."
    return None
