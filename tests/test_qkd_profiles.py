"""Device profiles: shipped data loads and validates; bad data fails with file and field named."""

from __future__ import annotations

import pytest

from harness.qkd.profiles import ProfileError, available_profiles, load_profile

SHIPPED = {"gys-2004", "lim-2014", "high-rate-2023", "free-space-ground"}


def test_shipped_profiles_load_and_cite_their_source():
    assert set(available_profiles()) >= SHIPPED
    for name in SHIPPED:
        prof = load_profile(name)
        assert prof.name == name
        assert prof.source_citation


def test_gys_profile_holds_the_published_set():
    p = load_profile("gys-2004")
    assert p.channel.attenuation_db_per_km == 0.21
    assert p.misalignment_error == 0.033
    assert p.detector.efficiency == 0.045
    assert p.background_yield() == pytest.approx(1.7e-6, rel=1e-6)
    assert p.error_correction_efficiency == 1.22
    assert p.source.repetition_rate_hz == 2e6
    assert p.total_transmittance(100.0) == pytest.approx(0.045 * 10 ** (-2.1))


def test_free_space_background_is_higher_by_day():
    p = load_profile("free-space-ground")
    assert p.background_yield("day") > 10 * p.background_yield("night")
    near, far = p.channel_transmittance(0.5), p.channel_transmittance(20.0)
    assert 0 < far < near <= 1


def test_load_by_path_and_field_errors_name_the_file(tmp_path):
    good = load_profile("gys-2004")
    path = tmp_path / "mine.yaml"
    text = (pytest.importorskip("yaml")).safe_dump(good.model_dump())
    path.write_text(text)
    assert load_profile(path) == good
    path.write_text(text.replace("misalignment_error: 0.033", "misalignment_error: 0.9"))
    with pytest.raises(ProfileError, match=r"mine.yaml: misalignment_error"):
        load_profile(path)


def test_inconsistent_source_is_rejected():
    p = load_profile("lim-2014")
    with pytest.raises(ValueError, match="sum to"):
        p.with_changes({"source.intensity_probabilities": [0.5, 0.25, 0.3]})
    with pytest.raises(ValueError, match="decreasing"):
        p.with_changes({"source.intensities": [0.1, 0.5, 0.0]})
    with pytest.raises(KeyError, match=r"detector\.nope"):
        p.with_changes({"detector.nope": 1})


def test_unknown_name_lists_the_shipped_profiles():
    with pytest.raises(ProfileError, match="lim-2014"):
        load_profile("acme-9000")
