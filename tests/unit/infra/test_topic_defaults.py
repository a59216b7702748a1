"""Reading the cluster's default replication factor while the cluster is still settling."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.admin import ConfigResource
from kafka.errors import UnknownBrokerIdError

from infra.topics import BROKER_DEFAULT, _broker_default_replicas


class SettlingCluster:
    """An admin client's view of a cluster in which some brokers are listed but cannot be asked
    yet (found on a three-node cluster just started: the first one listed was unknown to the
    node the client asked)."""

    def __init__(self, answering: dict[int, dict[str, str]], listed: list[int]) -> None:
        self.answering, self.listed = answering, listed
        self.asked: list[int] = []

    def describe_cluster(self) -> dict[str, Any]:
        return {"brokers": [{"broker_id": broker} for broker in self.listed]}

    def describe_configs(self, resources: list[ConfigResource]) -> dict[str, Any]:
        """kafka-python 3's answer: {type: {name: {config: {"value": value, ...}}}}."""
        broker = int(resources[0].name)
        self.asked.append(broker)
        if broker not in self.answering:
            raise UnknownBrokerIdError(broker)
        configs = {name: {"value": value} for name, value in self.answering[broker].items()}
        return {"BROKER": {str(broker): configs}}


def test_a_broker_not_known_yet_is_passed_over_for_the_next() -> None:
    cluster = SettlingCluster({2: {"default.replication.factor": "3"}}, listed=[1, 2])
    assert _broker_default_replicas(cluster) == 3
    assert cluster.asked == [1, 2]


def test_when_no_broker_answers_the_error_is_told() -> None:
    cluster = SettlingCluster({}, listed=[1, 2])
    with pytest.raises(UnknownBrokerIdError):
        _broker_default_replicas(cluster)


def test_a_cluster_that_reports_no_default_leaves_it_to_the_broker() -> None:
    cluster = SettlingCluster({1: {}}, listed=[1])
    assert _broker_default_replicas(cluster) == BROKER_DEFAULT
