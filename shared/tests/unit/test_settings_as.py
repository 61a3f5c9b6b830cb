"""`settings_as`: the one way a service reads its own settings class from what the runtime passes."""

from __future__ import annotations

import pytest

from shared.settings import ServiceSettings, settings_as


class OwnSettings(ServiceSettings):
    own_limit: int = 7


def test_the_service_s_own_settings_come_back_as_they_are():
    s = OwnSettings(own_limit=3)
    assert settings_as(s, OwnSettings) is s


def test_no_settings_give_the_class_defaults_and_never_the_environment(monkeypatch):
    monkeypatch.setenv("DISTSYNC_OWN_LIMIT", "99")
    monkeypatch.setenv("DISTSYNC_BATCH_SIZE", "5")
    s = settings_as(None, OwnSettings)
    assert isinstance(s, OwnSettings)
    assert (s.own_limit, s.batch_size) == (7, 100)


def test_the_shared_settings_alone_are_refused_where_a_service_needs_its_own():
    with pytest.raises(TypeError, match="OwnSettings needed, not ServiceSettings"):
        settings_as(ServiceSettings(), OwnSettings)
