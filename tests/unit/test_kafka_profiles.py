"""Broker profiles (DESIGN §7): what each one turns on, decided in one place."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bus.kafka.client import CLUSTER_RF, BrokerProfile, KafkaSettings, consumer_config, producer_config


def settings(profile: BrokerProfile) -> KafkaSettings:
    return KafkaSettings(bootstrap="127.0.0.1:9092", broker_profile=profile)


def test_embedded_profile_has_no_idempotence_but_acks_all() -> None:
    config = producer_config(settings(BrokerProfile.EMBEDDED))
    assert (config["acks"], config["enable_idempotence"]) == ("all", False)


def test_kafka_profile_turns_idempotence_on() -> None:
    config = producer_config(settings(BrokerProfile.KAFKA))
    assert (config["acks"], config["enable_idempotence"]) == ("all", True)


def test_embedded_consumers_use_short_session_and_fetch_wait() -> None:
    config = consumer_config(settings(BrokerProfile.EMBEDDED))
    assert config["session_timeout_ms"] == 6000
    assert config["heartbeat_interval_ms"] == 500
    assert 10 <= config["fetch_max_wait_ms"] <= 50


def test_consumers_never_auto_commit() -> None:
    for profile in BrokerProfile:
        assert consumer_config(settings(profile))["enable_auto_commit"] is False


def test_replication_factor_follows_the_profile() -> None:
    assert settings(BrokerProfile.EMBEDDED).replication_factor == 1
    assert settings(BrokerProfile.KAFKA).replication_factor == CLUSTER_RF  # 3, or fewer brokers


def test_sasl_settings_reach_the_client_config() -> None:
    sasl = KafkaSettings(
        bootstrap="kafka-1:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="bus-processor",
        sasl_password="s3cret",
    )
    config = producer_config(sasl)
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_username"] == "bus-processor"
    assert config["sasl_plain_password"] == "s3cret"
    assert "ssl_context" in config


def test_a_misspelled_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match="brokr_profile"):
        KafkaSettings(bootstrap="x:1", brokr_profile="embedded")  # type: ignore[call-arg]


def test_settings_are_read_from_bus_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_BOOTSTRAP", "10.0.0.1:9092")
    monkeypatch.setenv("BUS_BROKER_PROFILE", "embedded")
    loaded = KafkaSettings()
    assert (loaded.bootstrap, loaded.broker_profile) == ("10.0.0.1:9092", BrokerProfile.EMBEDDED)


def test_compression_is_off_unless_configured() -> None:
    assert "compression_type" not in producer_config(settings(BrokerProfile.KAFKA))
    lz4 = KafkaSettings(bootstrap="127.0.0.1:9092", compression="lz4")
    assert producer_config(lz4)["compression_type"] == "lz4"
