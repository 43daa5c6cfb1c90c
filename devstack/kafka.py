"""Apache Kafka, single-node KRaft (combined broker + controller) on loopback, jars from Maven Central."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack.fetch import fetch_once, run_client
from devstack.kafka_tls import BrokerTls
from devstack.prereqs import find_java, jvm_dirs_from, require_tool
from devstack.process import ManagedProcess, ServiceStartError, log_tail
from devstack.steps import QUIET, StepProgress, Steps
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity

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


ADMIN_USER = "admin"  # the stack's super user (topics, users, ACLs); services get principals of their own


@dataclass(frozen=True)
class KafkaService:
    data_dir: Path
    log_dir: Path
    port: int
    controller_port: int
    secured: bool = False  # SASL SCRAM-SHA-512 over TLS, StandardAuthorizer, no ACL: no access

    name = "kafka"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def tls(self) -> BrokerTls:
        return BrokerTls(self.data_dir / "tls")

    def admin_security(self) -> KafkaSecurity:
        """The stack's admin credentials (PLAINTEXT when the broker is not secured)."""
        if not self.secured:
            return PLAINTEXT
        return PLAINTEXT.as_user(ADMIN_USER, self.tls.secret(ADMIN_USER), str(self.tls.ca_file))

    def _listeners(self) -> list[str]:
        p, c = self.port, self.controller_port
        if not self.secured:
            return [
                f"listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        tls, password = self.tls.ensure(), self.tls.secret(ADMIN_USER)
        jaas = f'ScramLoginModule required username="{ADMIN_USER}" password="{password}";'
        return [
            f"listeners=SASL_SSL://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}",
            "inter.broker.listener.name=SASL_SSL",
            # a PLAINTEXT controller listener with an authorizer hangs the start (BROKER_REGISTRATION refused
            # to User:ANONYMOUS): the controller speaks TLS with client certificates, the broker's own
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            f"org.apache.kafka.common.security.scram.{jaas}",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={tls.keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={tls.ca_file}",
            "listener.name.controller.ssl.client.auth=required",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{ADMIN_USER};{tls.principal}",
            "allow.everyone.if.no.acl.found=false",
        ]

    def _properties(self) -> str:
        c = self.controller_port
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{c}",
                *self._listeners(),
                "controller.listener.names=CONTROLLER",
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
        formatted = (self.data_dir / "logs" / "meta.properties").exists()
        if self.secured and formatted and not self.tls.has_secret(ADMIN_USER):
            raise ServiceStartError(
                f"the Kafka storage in {self.data_dir} was formatted for an open broker (no admin SCRAM "
                "user): run `reelstream stack down` and remove that folder to start a secured one, or set "
                "REELSTREAM_DEV_KAFKA_AUTH=off"
            )
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
                    *self._format_users(),
                ],
                log,
                env,
            )
            if fmt.run(timeout=120) != 0:
                raise ServiceStartError(f"formatting Kafka storage failed; log {log}:\n{log_tail(log)}")
        return ManagedProcess("kafka", [*jvm, "kafka.Kafka", str(props)], log, env)

    def _format_users(self) -> list[str]:
        """The admin user exists from the first start (the broker itself logs in as it); the services'
        users are added through the admin API once it runs (devstack.kafka_principals)."""
        if not self.secured:
            return []
        password = self.tls.secret(ADMIN_USER)
        return ["--add-scram", f"SCRAM-SHA-512=[name={ADMIN_USER},password={password}]"]
