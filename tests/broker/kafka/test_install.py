"""`bus broker install` fetches Kafka once; a complete cache is a no-op; missing tools are named."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bus.broker.kafka.install import cache_dir, find_java, install, installed, java_version, kafka_version
from bus.errors import BrokerBinaryNotFound


def test_a_second_install_fetches_nothing() -> None:
    # given an installation (the session broker made one if the machine had none)
    first, _ = install()
    # when install runs again
    second, fetched = install()
    # then nothing was fetched and the same jars are used
    assert not fetched
    assert second.libs == first.libs
    assert (second.libs / f"kafka_2.13-{kafka_version()}.jar").is_file()


def test_a_jar_missing_from_the_cache_makes_it_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a cache whose marker lists a jar that is not there
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    libs = cache_dir() / "libs"
    libs.mkdir(parents=True)
    (libs / "present.jar").write_bytes(b"x")
    marker = {"version": kafka_version(), "jars": {"present.jar": 1, "missing.jar": 10}}
    (cache_dir() / "installed.json").write_text(json.dumps(marker))
    # then it does not count as installed
    assert installed() is None


def test_a_java_older_than_17_is_refused_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given only a Java 11 on the machine (a script that answers -version as Java 11 does)
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(fake.parent))
    # when / then
    with pytest.raises(BrokerBinaryNotFound, match="needs Java 17") as caught:
        find_java()
    assert "openjdk-17-jre-headless" in caught.value.hint
    assert java_version(str(fake)) == 11


def test_the_java_of_this_machine_is_recent_enough() -> None:
    assert java_version(find_java()) >= 17


def test_installing_without_maven_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given an empty cache and a PATH with java but no mvn
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    java = find_java()
    only_java = tmp_path / "bin"
    only_java.mkdir()
    os.symlink(java, only_java / "java")
    monkeypatch.setenv("PATH", str(only_java))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    # when / then
    with pytest.raises(BrokerBinaryNotFound, match="needs Maven") as caught:
        install()
    assert "apt-get install -y maven" in caught.value.hint
