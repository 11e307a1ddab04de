"""Apache Kafka from Maven Central: the jars of the pinned release in a per-version cache.

No tarball and no Docker: Maven resolves ``pom.xml`` (shipped beside this module) and
copies the runtime jars into ``$XDG_CACHE_HOME/agency-bus/kafka-<version>/libs``. A cache
is complete when the marker file lists every jar and each is present with its size.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from bus.errors import BrokerBinaryNotFound

HERE = Path(__file__).parent
POM = HERE / "pom.xml"
LOG4J2 = HERE / "log4j2.properties"
_MARKER = "installed.json"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
MIN_JAVA = 17


def kafka_version() -> str:
    """The Kafka release ``pom.xml`` pins (one source for install, tests and deploy/)."""
    found = ElementTree.parse(POM).getroot().find("m:properties/m:kafka.version", _POM_NS)
    if found is None or not found.text:
        raise BrokerBinaryNotFound(f"{POM} has no <kafka.version>", hint="reinstall agency-bus")
    return found.text.strip()


def cache_dir(version: str | None = None) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "agency-bus" / f"kafka-{version or kafka_version()}"


@dataclass(frozen=True)
class Installation:
    """A complete Kafka cache: where the jars are and which Java runs them."""

    version: str
    libs: Path
    java: str
    jars: int
    size_bytes: int

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def java_version(java: str) -> int:
    """The major version ``java -version`` reports (``17`` for "17.0.15", ``8`` for "1.8.0")."""
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False, timeout=30)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not found:
        return 0
    major = int(found[1])
    return int(found[2] or 0) if major == 1 else major


def find_java() -> str:
    """A Java >= 17 (``$JAVA_HOME/bin/java`` first, then ``PATH``), or an error naming the package."""
    home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(home) / "bin" / "java")] if home else []
    candidates += [found] if (found := shutil.which("java")) else []
    for java in candidates:
        if Path(java).exists() and java_version(java) >= MIN_JAVA:
            return java
    seen = ", ".join(f"{j} ({java_version(j)})" for j in candidates if Path(j).exists()) or "none"
    raise BrokerBinaryNotFound(
        f"Apache Kafka {kafka_version()} needs Java {MIN_JAVA} or newer; found: {seen}",
        hint="install openjdk-17-jre-headless (apt-get install -y openjdk-17-jre-headless) or set "
        "JAVA_HOME, or use --engine tansu",
    )


def installed(version: str | None = None) -> Installation | None:
    """The cached installation when it is complete, else None (no network, no Maven)."""
    libs = cache_dir(version) / "libs"
    try:
        listed: dict[str, int] = json.loads((libs.parent / _MARKER).read_text())["jars"]
    except (OSError, ValueError, KeyError):
        return None
    for name, size in listed.items():
        jar = libs / name
        if not jar.is_file() or jar.stat().st_size != size:
            return None
    try:
        java = find_java()
    except BrokerBinaryNotFound:
        return None
    return Installation(version or kafka_version(), libs, java, len(listed), sum(listed.values()))


def install() -> tuple[Installation, bool]:
    """Resolve and cache the pinned release; returns it and whether anything was fetched."""
    found = installed()
    if found is not None:
        return found, False
    java = find_java()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerBinaryNotFound(
            f"installing Apache Kafka {kafka_version()} needs Maven (mvn) to fetch it from Maven Central",
            hint="install maven (apt-get install -y maven), or use --engine tansu",
        )
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=target))
    command = [
        mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise BrokerBinaryNotFound(
            f"Maven could not fetch Apache Kafka {kafka_version()} (exit {result.returncode}):\n{tail}",
            hint="check that Maven Central is reachable (a proxy in ~/.m2/settings.xml?), "
            "or use --engine tansu",
        )
    jars = {p.name: p.stat().st_size for p in sorted(staging.glob("*.jar"))}
    wanted = f"kafka_2.13-{kafka_version()}.jar"
    if wanted not in jars:
        shutil.rmtree(staging, ignore_errors=True)
        raise BrokerBinaryNotFound(f"Maven finished but {wanted} is not among the fetched jars")
    libs = target / "libs"
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    (target / _MARKER).write_text(json.dumps({"version": kafka_version(), "jars": jars}, indent=1))
    return Installation(kafka_version(), libs, java, len(jars), sum(jars.values())), True
