"""Commands of ``rituals``. User mistakes end with a readable message and exit code 2, never a
traceback; ``--help`` works on every command."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from infra.apache_kafka import ApacheKafka, KafkaUnavailableError
from infra.broker import EmbeddedBroker, LocalBroker, PortTakenError
from infra.kafka import DEFAULT_BOOTSTRAP_SERVERS, KafkaSettings
from infra.store import StoreUnavailableError
from infra.topics import TopicMismatchError, TopicSettings, ensure_topics, provision_topics
from services.cli.audit import audit_app
from services.cli.clock import clock_app
from services.cli.commands import feedback, members_app, ritual_app, round_app
from services.cli.context import fail, kafka_errors_explained
from services.cli.events import events_app
from services.cli.gateway import gateway_app
from services.cli.notifications import notifications_app
from services.cli.platform import DEFAULT_DATA_DIR, run_platform
from services.common.logging import configure_logging
from services.common.settings import ServiceSettings
from services.demo.runner import finish, run_demo
from services.demo.script import DemoShape
from services.insights.cli import insights


class Engine(StrEnum):
    EMBEDDED = "embedded"
    KAFKA = "kafka"


app = typer.Typer(
    help="Rituals: coffee matching, onboarding buddies and team rituals for hybrid teams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="Kafka topics of the platform.", no_args_is_help=True)


@app.callback()
def _quiet_kafka_clients() -> None:
    """A command explains a broker it cannot reach itself (exit code 2); the clients' own lines,
    tracebacks of races while closing included, are not for its user."""
    for client in ("kafka", "aiokafka"):
        logging.getLogger(client).setLevel(logging.CRITICAL)


app.add_typer(topics_app, name="topics")
app.add_typer(gateway_app, name="gateway")
DEFAULT_PORT = int(DEFAULT_BOOTSTRAP_SERVERS.rsplit(":", 1)[1])

DataDir = Annotated[
    Path,
    typer.Option(
        envvar="RITUALS_DATA_DIR",
        help="Where the broker keeps the log across restarts (the embedded broker's object "
        "store in <dir>/store, Apache Kafka's logs in <dir>/kafka).",
    ),
]
Ephemeral = Annotated[
    bool,
    typer.Option(
        "--ephemeral", help="Keep nothing: the log lives in memory (or a temporary folder)."
    ),
]


def data_folder(engine: Engine, data_dir: Path, ephemeral: bool) -> Path | None:
    """The folder a broker keeps its data in; None: in memory, or a temporary folder."""
    if ephemeral:
        return None
    return data_dir / "kafka" if engine is Engine.KAFKA else data_dir


app.add_typer(members_app, name="members")
app.add_typer(round_app, name="round")
app.add_typer(ritual_app, name="ritual")
app.add_typer(events_app, name="events")
app.add_typer(notifications_app, name="notifications")
app.add_typer(clock_app, name="clock")
app.add_typer(audit_app, name="audit")
app.command("feedback")(feedback)
app.command("insights")(insights)


@app.command()
def broker(
    port: Annotated[
        int, typer.Option(help="Port to listen on (0 picks a free one).", min=0, max=65535)
    ] = DEFAULT_PORT,
    provision: Annotated[
        bool, typer.Option(help="Create the platform's topics once the broker listens.")
    ] = True,
    engine: Annotated[
        Engine,
        typer.Option(
            help="embedded: Tansu from PyPI, in memory. kafka: Apache Kafka (KRaft) from Maven "
            "Central, fetched once; needs Java 17+ and Maven."
        ),
    ] = Engine.EMBEDDED,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ephemeral: Ephemeral = False,
    brokers: Annotated[
        int,
        typer.Option(
            min=1,
            max=5,
            help="Apache Kafka only: nodes of the cluster on this machine (3 for fault tests: "
            "every topic with three replicas, two in sync to take a write). The first listens "
            "on --port, the others on free ports.",
        ),
    ] = 1,
) -> None:
    """Run a broker in the foreground until Ctrl-C: the embedded one, or Apache Kafka."""
    if engine is Engine.EMBEDDED and brokers != 1:
        fail("--brokers is for --engine kafka: the embedded broker is one process")
    folder = data_folder(engine, data_dir, ephemeral)
    running: LocalBroker = (
        EmbeddedBroker(port or None, data_dir=folder)
        if engine is Engine.EMBEDDED
        else ApacheKafka(port or None, data_dir=folder, brokers=brokers)
    )
    try:
        with running:
            servers = running.bootstrap_servers
            if provision:
                ensure_topics(KafkaSettings(bootstrap_servers=servers), TopicSettings())
            kept = f"log kept in {folder}" if folder else "nothing kept (--ephemeral)"
            typer.echo(f"{engine.value} broker listening on {servers}; {kept}")
            typer.echo(f"  export KAFKA_BOOTSTRAP_SERVERS={servers}")
            _wait_for_stop_signal()
    except (
        PortTakenError,
        KafkaUnavailableError,
        StoreUnavailableError,
        TopicMismatchError,
    ) as refused:
        fail(str(refused))


@topics_app.command("provision")
def provision() -> None:
    """Create every missing topic (domain and dead-letter) and check the existing ones:
    partitions, retention, cleanup policy, min.insync.replicas. A mismatch is reported (exit
    code 2) and left for an operator to decide; nothing existing is changed."""
    with kafka_errors_explained():
        report = provision_topics(KafkaSettings(), TopicSettings())
    for name in report.created:
        typer.echo(f"created  {name}")
    for name in report.existing:
        typer.echo(f"existing {name}")
    if report.unverified:
        typer.echo(
            f"the broker reports no configuration for {len(report.unverified)} topics: "
            "their retention was not checked"
        )
    if report.mismatches:
        for mismatch in report.mismatches:
            typer.secho(f"mismatch {mismatch}", fg=typer.colors.RED, err=True)
        fail("existing topics would lose or misplace history; see docs/runtime.md (Topics)")


@app.command()
def up(
    port: Annotated[
        int,
        typer.Option(
            help="Port of the embedded broker (0 picks a free one). At the default, every "
            "rituals command in another terminal finds it without any setting.",
            min=0,
            max=65535,
        ),
    ] = DEFAULT_PORT,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ephemeral: Ephemeral = False,
) -> None:
    """The embedded broker on 127.0.0.1:9092 (unless KAFKA_BOOTSTRAP_SERVERS is set), its log
    kept in the data folder, topics, and the three services, the clock and the gateway as separate
    processes; Ctrl-C stops everything."""
    settings = ServiceSettings()
    configure_logging("platform", log_format=settings.log_format, level=settings.log_level)
    try:
        code = run_platform(
            os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
            port=port or None,
            data_dir=data_folder(Engine.EMBEDDED, data_dir, ephemeral),
        )
    except PortTakenError as taken:
        fail(f"{taken}; `rituals up --port 0` picks a free one")
    except StoreUnavailableError as refused:
        fail(str(refused))
    raise typer.Exit(code)


@app.command()
def demo(
    weeks: Annotated[int, typer.Option(min=1, max=52, help="Weeks to simulate.")] = 12,
    members: Annotated[int, typer.Option(min=10, max=5000, help="People at the start.")] = 150,
    teams: Annotated[int, typer.Option(min=2, max=50, help="Teams.")] = 10,
    new_hires: Annotated[int, typer.Option(min=0, help="New hires arriving over time.")] = 8,
    seed: Annotated[int, typer.Option(help="Same seed, same organisation.")] = 7,
    pulse: Annotated[
        bool, typer.Option(help="Ask the weekly pulse; people answer it through the gateway.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Logs, outbox and the insights page.")] = Path(
        "var/demo"
    ),
) -> None:
    """The living demo: the platform on the embedded broker (or KAFKA_BOOTSTRAP_SERVERS), a
    generated organisation and a simulated clock running the weeks through clock ticks."""
    configure_logging("demo", level="WARNING")
    _stop_on_sigterm()
    shape = DemoShape(
        seed=seed, members=members, teams=teams, weeks=weeks, new_hires=new_hires, pulse=pulse
    )
    started = time.monotonic()
    run = run_demo(shape, out, os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    finish(run)
    typer.echo(f"{weeks} weeks simulated in {time.monotonic() - started:.0f} s")


def _stop_on_sigterm() -> None:
    """SIGTERM ends the command like Ctrl-C: its clean-up runs (the services and the embedded
    broker it started are stopped, not left running as orphans)."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _wait_for_stop_signal() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
