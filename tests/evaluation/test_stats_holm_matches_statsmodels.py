"""Holm is computed in-house (statsmodels' Holm runs gc.collect() on every call): same figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from evaluation.stats import holm


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=12),
       st.sampled_from([0.01, 0.05, 0.1]))
def test_holm_gives_the_same_adjusted_p_values_and_rejections_as_statsmodels(p_values, alpha):  # type: ignore[no-untyped-def]
    family = holm(p_values, alpha=alpha)
    reject, adjusted, _, _ = multipletests(p_values, alpha=alpha, method="holm")
    assert [c.adjusted_p_value for c in family.comparisons] == pytest.approx(
        np.minimum(adjusted, 1.0).tolist(), abs=1e-12)
    assert [c.reject for c in family.comparisons] == reject.tolist()


def test_holm_on_ties_and_the_boundary() -> None:
    family = holm({"a": 0.01, "b": 0.01, "c": 0.04}, alpha=0.05)
    by = family.by_label()
    assert by["a"].adjusted_p_value == pytest.approx(0.03)
    assert by["b"].adjusted_p_value == pytest.approx(0.03)
    assert by["c"].adjusted_p_value == pytest.approx(0.04)
    assert all(c.reject for c in family.comparisons)
