"""The campaign report: every figure computed from rolled-up counts, every count disclosed.

``campaign_report(campaign=, policy=)`` reads only ``DailyCell`` and ``ArmSubjectTotal`` (and
the plan), runs the statistics in ``evaluation.stats`` on exact counts, then passes every
count it shows through ``core.disclosure``. An estimate (rate, interval, p-value) is
shown only when every count it is built from is shown, so a hidden count cannot be
recovered from it. Renderers (admin page, CSV, JSON, charts) read this object only.

Disclosure: one table for the whole report
------------------------------------------
Every count (arms x measure with "all arms" margins, and the by-day/country/channel
breakdowns, whose columns the reader knows add up to the arm's figure) and every estimate
computed from counts (rates, funnel conversions, comparisons with their tests, intervals and
sequential bounds, Mantel-Haenszel/CMH/Breslow-Day results, SRM verdict and per-day flags) is
declared in one ``core.disclosure.Table`` with the counts it depends on. The table chooses
complementary suppressions against a reader who can do linear programming over everything
published, and an estimate is computed for publication only when all its counts pass; so the
JSON/API, CSV, admin page and charts, which read this object only, cannot show it either.
Holm adjustment treats a hidden comparison's p-value as 1 (conservative). Progress ratios
are declared like any estimate.

The helpline queue: for a campaign that signposts a helpline hosted here (a check the wiring
registers in ``SIGNPOSTS_HELPLINE``, so evaluation imports no helpline), the funnel shows
``helpline_answered`` and ``helpline_abandoned`` beside ``helpline_contact``, each as a share
of the contacts; the contacts neither answered nor abandoned are a latent cell of the table.
They are described (counts, rates, funnel) and compared only when the plan names them, and
shown only when protecting them hides nothing the report without them shows (else left out,
with a note).

Modules: ``views`` (result types), ``context`` (reading the counts), ``table`` (the one
disclosure table), ``comparisons`` (proportions, rates, Holm, strata), ``checks`` (SRM and
progress), ``builder`` (``campaign_report``).
"""

from evaluation.reports.builder import breakdown_rows, campaign_report
from evaluation.reports.context import (
    SIGNPOSTS_HELPLINE,
    Counts,
    ReportContext,
    read_counts,
    signposts_helpline_register,
)
from evaluation.reports.views import (
    FUNNEL,
    HELPLINE_QUEUE,
    HIDDEN,
    ArmRow,
    Breakdown,
    CampaignReport,
    Comparison,
    FunnelStage,
    PlanView,
    ProgressView,
    RateView,
    SrmView,
    StratifiedView,
)

__all__ = [
    "FUNNEL", "HELPLINE_QUEUE", "HIDDEN", "SIGNPOSTS_HELPLINE", "ArmRow", "Breakdown",
    "CampaignReport", "Comparison", "Counts", "FunnelStage", "PlanView", "ProgressView",
    "RateView", "ReportContext", "SrmView", "StratifiedView", "breakdown_rows",
    "campaign_report", "read_counts", "signposts_helpline_register",
]
