"""Settings every service shares, read from the environment (prefix ``RITUALS_``)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """How one service process runs; Kafka and topic settings have their own models in ``infra``."""

    model_config = SettingsConfigDict(env_prefix="RITUALS_", extra="ignore")

    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="Log rendering: auto is console on a terminal, JSON otherwise."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level written to the log."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve Prometheus metrics on this port (off when unset).",
    )
    replay_idle_ms: int = Field(
        default=500,
        ge=50,
        description="While rebuilding state, how long one poll waits for records; a partition "
        "that has not reported its end yet is taken as ended after such an empty poll.",
    )
    replay_slack_seconds: float = Field(
        default=3_600,
        ge=0,
        description="While rebuilding state, how long in domain time events are held before "
        "they are folded in: a record may come this much older than the latest of its partition "
        "before the rebuild reads the history again to sort it (docs/runtime.md, 'Streaming "
        "the rebuild').",
    )
    session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="Consumer group session timeout: how soon a dead instance's partitions move "
        "(Apache Kafka refuses less than group.min.session.timeout.ms, 6,000 by default).",
    )
    heartbeat_interval_ms: int = Field(
        default=3_000, ge=100, description="Consumer group heartbeat (under a third of the above)."
    )
    max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1_000,
        description="The longest a record may wait (for a rebuild to end) before the consumer "
        "leaves its group; also the rebalance timeout.",
    )
    batch_size: int = Field(
        default=500,
        ge=1,
        description="Most records handled per batch; their outputs are acknowledged together "
        "and the batch committed once.",
    )
    producer_batch_bytes: int = Field(
        default=512 * 1024,
        ge=1_024,
        description="Most bytes a producer gathers per partition into one batch before a send "
        "waits for it to leave; at most the topics' max.message.bytes (1 MiB by default).",
    )
    commit_interval_ms: int = Field(
        default=200,
        ge=0,
        description="While batches keep coming, commit their offsets at most this often (0: "
        "after every batch); a quiet poll, a revocation and a stop commit at once. Without "
        "transactions only: with them a batch's offsets are part of its transaction.",
    )
    clock_replay_window: int = Field(
        default=5_000,
        ge=0,
        description="Clock ticks a rebuild reads before the group's last commit on each clock "
        "partition (enough for the latest tick of every organisation on it); older ticks were "
        "decided, their outputs are in the log, and only the latest 'now' matters.",
    )
    snapshots: bool = Field(
        default=True,
        description="Write snapshots of the state and restore from them (docs/runtime.md).",
    )
    snapshot_every: int = Field(
        default=20_000,
        ge=1,
        description="Events a partition's state folds in between two snapshots of it.",
    )
    snapshot_seconds: float = Field(
        default=300.0,
        gt=0,
        description="At most this long between two snapshots of a partition that changed.",
    )
    transaction_timeout_ms: int = Field(
        default=15_000,
        ge=1_000,
        description="With Kafka transactions: how long a transaction may stay open before the "
        "broker aborts it; after a crash, read_committed readers of its partitions wait at most "
        "this long.",
    )
    poll_ms: int = Field(
        default=200, ge=1, description="How long one poll waits for records when there are none."
    )
    fetch_max_wait_ms: int = Field(
        default=50,
        ge=1,
        le=5_000,
        description="How long the broker may hold a fetch that finds nothing new. Apache Kafka "
        "answers as soon as a record arrives; the embedded broker answers only when the wait is "
        "over, so this bounds how late a new record is read there (aiokafka's 500 ms made every "
        "hop of a decision 125 ms late on average).",
    )
    poll_spacing_ms: int | None = Field(
        default=None,
        ge=0,
        le=5_000,
        description="Least time between the starts of two polls of the live consumer: under "
        "load one poll takes what came meanwhile, where polling at once makes a fetch for every "
        "few records, and each fetch that finds records costs the broker (the embedded one lists "
        "the partition's batches). Unset: the service's own, 0 where people wait for its "
        "answers (onboarding, notifier), 100 ms for the matcher and the gateway.",
    )
    group_instance_id: str | None = Field(
        default=None,
        description="Static group membership: a stable name per instance (e.g. the pod name) so "
        "a restart within the session timeout keeps its partitions without a rebalance.",
    )


def read_policy_document(path: Path) -> object:
    """A service's policy file: TOML when it ends in ``.toml``, JSON otherwise."""
    text = path.read_text(encoding="utf-8")
    return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
