import math

from evaluation.stats import Estimate
from evaluation.templatetags.evaluation_tags import estimate


def test_an_estimate_reads_as_value_and_interval():
    value = Estimate(value=1.2345, lower=1.1, upper=1.38, confidence=0.95, method="wald")
    assert estimate(value) == "1.235 (1.100\u20131.380)"


def test_an_unbounded_interval_reads_as_infinity():
    value = Estimate(value=0.5, lower=0.0, upper=math.inf, confidence=0.95, method="exact")
    assert estimate(value) == "0.500 (0.000\u2013∞)"


def test_a_ratio_without_events_says_it_is_not_estimable():
    value = Estimate(value=math.nan, lower=0.0, upper=math.inf, confidence=0.95, method="exact")
    assert estimate(value) == "not estimable (no events)"
