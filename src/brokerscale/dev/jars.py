"""The Apache Kafka runtime: jars from Maven Central through the Maven project kept in this package.

`mvn dependency:copy-dependencies` resolves `kafka_2.13`, `kafka-tools`, MirrorMaker 2, a log4j2 binding and the
Prometheus JMX exporter agent, and copies them into the cache directory. `KAFKA_HOME` pointing at an
existing Kafka install is accepted instead (its `libs/`), so nothing is downloaded.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from brokerscale.console import err
from brokerscale.errors import BadInput
from brokerscale.paths import cache_dir

POM = Path(str(resources.files("brokerscale.dev") / "maven" / "pom.xml"))


def kafka_version() -> str:
    m = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert m, "pom.xml declares kafka.version"
    return m.group(1)


@dataclass(frozen=True)
class Runtime:
    """A directory of jars that can run brokers and Kafka's own tools."""

    libs: Path
    version: str

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")

    @property
    def jmx_agent(self) -> Path | None:
        found = sorted(self.libs.glob("jmx_prometheus_javaagent-*.jar"))
        if found:
            return found[-1]
        extra = cache_dir() / "jmx-agent"
        found = sorted(extra.glob("jmx_prometheus_javaagent-*.jar")) if extra.exists() else []
        return found[-1] if found else None


def java_major() -> int:
    """The major version of `java` on PATH; BadInput (one line, exit 2) if there is none."""
    java = shutil.which("java")
    if java is None:
        raise BadInput("java not found: install a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        raise BadInput(f"java: cannot read its version from {out.splitlines()[:1]}")
    major = int(m.group(1))
    if major == 1 and m.group(2):
        major = int(m.group(2))
    if major < 17:
        raise BadInput(f"java {major} found, Kafka 4 needs Java 17+: install openjdk-17-jre-headless")
    return major


def _cached_libs() -> Path:
    """The cache directory for this pom: a changed dependency list gets its own directory (fetched once),
    and an older cache stays untouched for the versions of brokerscale that use it."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:8]
    return cache_dir() / f"kafka-{kafka_version()}-{digest}" / "libs"


def find_runtime() -> Runtime | None:
    """The runtime if present: KAFKA_HOME first, else the cache. Never downloads."""
    home = os.environ.get("KAFKA_HOME")
    if home:
        libs = Path(home) / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise BadInput(f"KAFKA_HOME={home}: no libs/kafka_2.13-*.jar there (unset it to use the jar cache)")
        version = re.sub(r"^kafka_2\.13-|\.jar$", "", sorted(libs.glob("kafka_2.13-*.jar"))[-1].name)
        return Runtime(libs, version)
    libs = _cached_libs()
    if (libs / ".complete").exists():
        return Runtime(libs, kafka_version())
    return None


def fetch(*, quiet: bool = False) -> Runtime:
    """Make sure the jars are in the cache, downloading them with Maven (with progress) if not."""
    java_major()
    found = find_runtime()
    if found is not None:
        return found
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BadInput("mvn not found: install Apache Maven (e.g. `apt-get install maven`) or set KAFKA_HOME")
    libs = _cached_libs()
    libs.parent.mkdir(parents=True, exist_ok=True)
    # Several commands may start at once on a fresh machine: one downloads, the others wait for it.
    with open(libs.parent / ".fetch.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            found = find_runtime()
            return found if found is not None else _download(mvn, libs, quiet)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _download(mvn: str, libs: Path, quiet: bool) -> Runtime:
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, exist_ok=True)
    cmd = [mvn, "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
           f"-DoutputDirectory={tmp}"]
    downloaded = 0
    tail: list[str] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"Fetching Apache Kafka {kafka_version()} jars from Maven Central", total=None)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = ([*tail, line.rstrip()])[-15:]
            if line.startswith("Downloaded from"):
                downloaded += 1
                name = line.rsplit("/", 1)[-1].split(" ")[0]
                progress.update(task, description=f"Fetching Kafka {kafka_version()} jars: {downloaded} files ({name})")
            elif "Copying" in line:
                progress.update(task, description=f"Copying jars into {libs}")
        rc = proc.wait()
    if rc != 0:
        errors = [t for t in tail if "ERROR" in t]
        raise BadInput(f"mvn could not fetch the Kafka jars: {(errors or tail or ['no output'])[0].strip()}")
    (tmp / ".complete").write_text(kafka_version())
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    if not quiet:
        err.print(f"Kafka {kafka_version()} jars ready in {libs} ({downloaded} files downloaded)")
    return Runtime(libs, kafka_version())
