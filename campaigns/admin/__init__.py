"""Where programme managers build campaigns and reviewers sign them off.

A manager builds a campaign end to end on one page (settings, flights, arms with their messages,
schedules), sees the launch-gate problems live, and presses Submit. A reviewer (not the author)
opens it and presses Approve or Reject. Every button calls a service (campaigns/authoring.py,
campaigns/lifecycle.py), so the admin enforces exactly the rules the API does. Approved content
is frozen: editing it sends the campaign back to draft; a scheduled or running campaign is
read-only.

Access follows the organisation role: managers edit; reviewers, analysts and viewers read
(reviewers also approve and reject).

In parts: `access` (role-based permissions), `inlines` (flights, arms, schedules), `campaign`
(the campaign page and its transition buttons), `message` (the message library and its
preview). Importing the package registers both admins.
"""

from campaigns.admin import campaign, message  # noqa: F401 - registers the admins
