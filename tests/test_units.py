"""Units: a pulse's mean photon number has a unit of its own, neither a count nor a fraction."""

from __future__ import annotations

import pytest

from harness.evaluation import units
from harness.evaluation.criteria_spec import Criterion, check
from suites.key_rate import KeyRate

INTENSITIES = ("finite_key_optimum_mu1", "finite_key_optimum_mu2", "finite_key_optimum_mu3")


def test_a_mean_photon_number_converts_to_nothing_else():
    assert units.unit("photons/pulse").dimension == "mean photon number"
    assert units.convert(0.5, "photons/pulse", "photons/pulse") == 0.5
    for other in ("count", "ratio", "%"):
        with pytest.raises(units.UnitError):
            units.convert(0.5, "photons/pulse", other)


def test_key_rate_declares_its_intensities_per_pulse():
    assert {KeyRate.metrics[m].unit for m in INTENSITIES} == {"photons/pulse"}
    # their probabilities are fractions
    assert {KeyRate.metrics[f"finite_key_optimum_p_{m[-3:]}"].unit for m in INTENSITIES} == {"ratio"}


def _problems(threshold: str) -> list[str]:
    crit = Criterion(id="weak_signal", metric="finite_key_optimum_mu1", statistic="median", op="<=",
                     threshold=threshold)
    return [message for _, message in check([crit], None, ["a"], {"key_rate": KeyRate.metrics})]


def test_a_criterion_on_an_intensity_states_it_per_pulse():
    assert _problems("0.8 photons/pulse") == []
    # a bare number was taken as a count; an intensity needs its unit, and a count is another dimension
    assert any("give a unit" in p for p in _problems("0.8"))
    assert any("mean photon number" in p for p in _problems("0.8 count"))
