"""Learning's section of the campaign report page (registered by outreach/apps.py).

Enrolment and completion are outcome kinds, so the evaluation report counts them per arm from
its rollups when the plan lists them; this section adds what evaluation cannot compute: the
funnel of invited learners by arm and their knowledge gain.
"""

from __future__ import annotations

from django.template.loader import render_to_string

from core.disclosure import DisclosurePolicy
from learning.charts import learning_charts
from learning.models import Module
from learning.reports import GAIN_HEADER, STAGE_LABELS, gain_cells, learning_report


def campaign_learning_section(*, campaign, policy: DisclosurePolicy) -> str:  # type: ignore[no-untyped-def]
    modules = list(Module.objects.filter(organisation=campaign.organisation,
                                         learners__campaign=campaign).distinct())
    if not modules:
        return ""
    report = learning_report(modules=modules, policy=policy, campaign_id=campaign.pk)
    return render_to_string("admin/learning/_campaign_section.html", {
        "report": report, "gain_header": GAIN_HEADER, "stage_labels": STAGE_LABELS,
        "gain_rows": [gain_cells(r) for r in [*report.by_module, *report.by_audience]],
        "charts": learning_charts(report), "campaign": campaign})
