"""Apache Kafka, single-node KRaft (combined broker + controller) on loopback, jars from Maven Central."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack.fetch import fetch_once, run_client
from devstack.prereqs import find_java, jvm_dirs_from, require_tool
from devstack.process import ManagedProcess, ServiceStartError, log_tail
from devstack.steps import QUIET, StepProgress, Steps

KAFKA_VERSION = "4.1.2"
LOG4J_VERSION = "2.25.3"
SLF4J_VERSION = "2.0.17"  # kafka_2.13 pulls slf4j-api 1.7, which the Log4j2 SLF4J 2 binding cannot serve

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>reelstream.local</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.coordinator.name = org.apache.kafka
logger.coordinator.level = warn
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


def fetch_kafka(cache_dir: Path, env: Mapping[str, str], steps: Steps = QUIET) -> Path:
    """The folder of the broker's runtime jars, resolved with Maven once and cached."""
    mvn = require_tool("mvn", "fetching Apache Kafka", env)

    def build(staging: Path, progress: StepProgress) -> None:
        (staging / "pom.xml").write_text(
            _POM.format(kafka=KAFKA_VERSION, slf4j=SLF4J_VERSION, log4j=LOG4J_VERSION)
        )
        run_client(
            [
                str(mvn),
                "-B",  # not quiet: each "Downloaded from …" line feeds the progress
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging / 'libs'}",
            ],
            f"Apache Kafka {KAFKA_VERSION}",
            env,
            cwd=staging,
            on_line=progress.maven_line,
        )
        for old in (staging / "libs").glob("slf4j-api-1.*.jar"):
            old.unlink()

    what, hint = f"Apache Kafka {KAFKA_VERSION} jars (Maven)", "~45 MB, once"
    return fetch_once(cache_dir / f"kafka-{KAFKA_VERSION}", build, what, steps, hint) / "libs"


def new_cluster_id() -> str:
    """16 random bytes, base64url without padding, never starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@dataclass(frozen=True)
class KafkaService:
    data_dir: Path
    log_dir: Path
    port: int
    controller_port: int

    name = "kafka"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> str:
        p, c = self.port, self.controller_port
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{c}",
                f"listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.data_dir / 'logs'}",
                "num.partitions=1",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=4",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )

    def process(self, libs: Path, env: Mapping[str, str]) -> ManagedProcess:
        """Write the config, format storage on first use, and return the (not yet started) broker."""
        java = find_java(17, "Apache Kafka", env, jvm_dirs_from(env))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = self.data_dir / "server.properties"
        props.write_text(self._properties())
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(_LOG4J2)
        classpath = f"{libs}/*"
        jvm = [
            str(java),
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            classpath,
        ]
        log = self.log_dir / "kafka.log"
        if not (self.data_dir / "logs" / "meta.properties").exists():
            fmt = ManagedProcess(
                "kafka-storage-format",
                [
                    *jvm,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    new_cluster_id(),
                    "-c",
                    str(props),
                ],
                log,
                env,
            )
            if fmt.run(timeout=120) != 0:
                raise ServiceStartError(f"formatting Kafka storage failed; log {log}:\n{log_tail(log)}")
        return ManagedProcess("kafka", [*jvm, "kafka.Kafka", str(props)], log, env)
