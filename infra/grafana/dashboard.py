"""The "Rituals" Grafana dashboard, built with grafana-foundation-sdk and written to
``infra/grafana/dashboards/rituals.json``, the file Grafana provisions (``make dashboard``).

The JSON is never edited by hand: change this file and regenerate. Each panel answers one
operator's question, named in its description; every query asks only for metrics the services
export (``services/common/metrics.py``), which tests/unit/ops/test_ops_dashboard.py checks.

The SDK's current releases (the Grafana 12 schema) are numbered 0.0.x; its releases for older
Grafana versions carry a build-time epoch (``1769699998!10.1.0``) that sorts above every 0.0.x.
Hence the dev extra's ``grafana-foundation-sdk>=0.0.21,<1``: without ``<1``, pip would pick the
Grafana 10.1 builders.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

# The SDK warns, on import and on each dashboard built, that Grafana's next dashboard schema (v2)
# is preferred. Grafana's file provisioning (Compose runs Grafana 12.1) reads the classic JSON
# model this builds, so the warning is not ours to follow yet.
SCHEMA_V2_ADVICE = "Prefer using dashboardv2.Dashboard instead."
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", SCHEMA_V2_ADVICE, DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dashboard_builders
    from grafana_foundation_sdk.builders import prometheus, stat, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as dashboard_models

DASHBOARD_FILE = Path(__file__).parent / "dashboards" / "rituals.json"
DASHBOARD_UID = "rituals-overview"
"""Stable: links and bookmarks to the dashboard keep working across regenerations."""

PROMETHEUS = common.DataSourceRef(type_val="prometheus", uid="prometheus")
"""The data source infra/grafana/provisioning/datasources/prometheus.yml provisions."""

CHOSEN = 'service=~"$service"'
"""The services picked in the dashboard's ``service`` variable (all by default)."""

PANEL_HEIGHT = 8


def query(expression: str, legend: str) -> prometheus.Dataquery:
    """A series over the time range (a graph)."""
    return (
        prometheus.Dataquery().expr(expression).legend_format(legend).datasource(PROMETHEUS).range()
    )


def instant_query(expression: str, legend: str) -> prometheus.Dataquery:
    """One value at the end of the time range (a stat)."""
    return query(expression, legend).instant()


def with_targets(
    panel: timeseries.Panel | stat.Panel, queries: tuple[prometheus.Dataquery, ...]
) -> None:
    """The queries, named A, B, C... as Grafana's editor would."""
    for position, target in enumerate(queries):
        panel.with_target(target.ref_id(chr(ord("A") + position)))


def graph(
    title: str, question: str, unit: str, *queries: prometheus.Dataquery, width: int = 12
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(question)
        .datasource(PROMETHEUS)
        .unit(unit)
        .min(0)
        .height(PANEL_HEIGHT)
        .span(width)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    with_targets(panel, queries)
    return panel


def alarm(
    title: str, question: str, *queries: prometheus.Dataquery, width: int = 6, bad_from: float = 1
) -> stat.Panel:
    """A stat that turns red from ``bad_from`` on (a count that should stay at zero)."""
    return figure(title, question, *queries, width=width).thresholds(
        thresholds(("green", None), ("red", bad_from))
    )


def figure(
    title: str, question: str, *queries: prometheus.Dataquery, width: int = 6, no_value: str = "0"
) -> stat.Panel:
    """A stat, one neutral colour unless given thresholds."""
    panel = (
        stat.Panel()
        .title(title)
        .description(question)
        .datasource(PROMETHEUS)
        .height(PANEL_HEIGHT)
        .span(width)
        .no_value(no_value)
        .thresholds(thresholds(("blue", None)))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    with_targets(panel, queries)
    return panel


def thresholds(*steps: tuple[str, float | None]) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_models.Threshold(value=value, color=color) for color, value in steps])
    )


def service_variable() -> dashboard_builders.QueryVariable:
    return (
        dashboard_builders.QueryVariable("service")
        .label("Service")
        .description("The services whose consumers, events and dead letters are shown.")
        .datasource(PROMETHEUS)
        .query("label_values(rituals_ready, service)")
        .definition("label_values(rituals_ready, service)")
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dashboard_models.VariableOption(selected=True, text="All", value="$__all"))
    )


def consumers(board: dashboard_builders.Dashboard) -> None:
    board.with_row(dashboard_builders.Row("Consumers and rebuilds"))
    board.with_panel(
        graph(
            "Consumer lag by partition",
            "Is each service keeping up, and on which topic and partition is it behind? "
            "Records on the broker not handled yet.",
            "short",
            query(
                f"max by (service, topic, partition) (rituals_consumer_lag{{{CHOSEN}}})",
                "{{service}} {{topic}}[{{partition}}]",
            ),
        )
    )
    board.with_panel(
        figure(
            "Instances ready",
            "How many instances of each service have rebuilt their state and decide?",
            instant_query(f"sum by (service) (rituals_ready{{{CHOSEN}}})", "{{service}}"),
        ).thresholds(thresholds(("red", None), ("green", 1)))
    )
    board.with_panel(
        alarm(
            "Instances not ready",
            "Which services have an instance still rebuilding (or failing to)?",
            instant_query(
                f"count by (service) (rituals_ready{{{CHOSEN}}} == 0)"
                f" or sum by (service) (rituals_ready{{{CHOSEN}}}) * 0",
                "{{service}}",
            ),
        )
    )
    board.with_panel(
        graph(
            "Latest rebuild duration",
            "How long did each instance take from a partition assignment to ready?",
            "s",
            query(
                f"max by (service, instance) (rituals_rebuild_seconds{{{CHOSEN}}})",
                "{{service}} {{instance}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Events replayed to rebuild",
            "How fast do rebuilds read the history back?",
            "ops",
            query(
                f"sum by (service) (rate(rituals_events_replayed_total{{{CHOSEN}}}"
                "[$__rate_interval]))",
                "{{service}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        alarm(
            "Rebuild failures (1 h)",
            "Are rebuilds failing and being retried (the instance stays not ready)?",
            instant_query(
                f"sum by (service) (increase(rituals_rebuild_failures_total{{{CHOSEN}}}[1h]))",
                "{{service}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        alarm(
            "Batch and worker failures (1 h)",
            "Did a batch or a worker fail where nothing foresaw it (rebuilt or started again)? "
            "Both counters are shown from 0 at start, so the sum has every service.",
            instant_query(
                f"sum by (service) (increase(rituals_batch_failures_total{{{CHOSEN}}}[1h]))"
                f" + sum by (service) (increase(rituals_worker_failures_total{{{CHOSEN}}}[1h]))",
                "{{service}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Latest snapshot duration",
            "How long does writing a partition's snapshot take (the partition waits meanwhile)?",
            "s",
            query(
                f"max by (service, instance) (rituals_snapshot_seconds{{{CHOSEN}}})",
                "{{service}} {{instance}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Snapshots by outcome",
            "Are snapshots written and restored, or ignored (a rebuild from the whole log) or "
            "failing?",
            "short",
            query(
                f"sum by (service, outcome) (increase(rituals_snapshots_total{{{CHOSEN}}}"
                "[$__rate_interval]))",
                "{{service}} {{outcome}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Latest snapshot size",
            "How large is a partition's state (compressed)? It bounds a restart's reading.",
            "bytes",
            query(
                f"max by (service, instance) (rituals_snapshot_bytes{{{CHOSEN}}})",
                "{{service}} {{instance}}",
            ),
            width=8,
        )
    )


def events(board: dashboard_builders.Dashboard) -> None:
    board.with_row(dashboard_builders.Row("Events"))
    board.with_panel(
        graph(
            "Events consumed per second",
            "What does each service apply, by event type?",
            "ops",
            query(
                f"sum by (service, type) (rate(rituals_events_consumed_total{{{CHOSEN}}}"
                "[$__rate_interval]))",
                "{{service}} {{type}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Events published per second",
            "What does each service decide and publish, by event type?",
            "ops",
            query(
                f"sum by (service, type) (rate(rituals_events_published_total{{{CHOSEN}}}"
                "[$__rate_interval]))",
                "{{service}} {{type}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Duplicates skipped per second",
            "How many redelivered events does deduplication skip (after rebalances, retries)?",
            "ops",
            query(
                f"sum by (service) (rate(rituals_events_duplicate_total{{{CHOSEN}}}"
                "[$__rate_interval]))",
                "{{service}}",
            ),
            width=8,
        )
    )


def dead_letters(board: dashboard_builders.Dashboard) -> None:
    board.with_row(dashboard_builders.Row("Dead letters"))
    board.with_panel(
        graph(
            "Dead-lettered records by reason (1 h)",
            "Which records were refused, why, and by which service? Each waits on <topic>.dlq.",
            "short",
            query(
                f"sum by (service, reason) (increase(rituals_events_dead_lettered_total{{{CHOSEN}}}"
                "[1h]))",
                "{{service}} {{reason}}",
            ),
            width=18,
        )
    )
    board.with_panel(
        alarm(
            "Dead letters lost (1 h)",
            "Were refused records skipped because their dead letter could not be written? "
            "Their coordinates are in the service's log.",
            instant_query(
                f"sum by (service) (increase(rituals_dead_letters_lost_total{{{CHOSEN}}}[1h]))",
                "{{service}}",
            ),
        )
    )


def deliveries(board: dashboard_builders.Dashboard) -> None:
    board.with_row(dashboard_builders.Row("Notifier deliveries"))
    board.with_panel(
        graph(
            "Deliveries by channel and outcome (1 h)",
            "Are notifications delivered, retried or failing for good, and through which channel?",
            "short",
            query(
                "sum by (channel, outcome) (label_replace(label_replace(delta(rituals_state{"
                'service="notifier", measure=~"deliveries_.+"}[1h]), "outcome", "$1", '
                '"measure", "deliveries_([a-z]+)_.+"), "channel", "$1", "measure", '
                '"deliveries_[a-z]+_(.+)"))',
                "{{channel}} {{outcome}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Backlog by channel",
            "Which channel are deliveries waiting on (a failing receiver, an open breaker, "
            "working hours)?",
            "short",
            query(
                'sum by (channel) (label_replace(rituals_state{service="notifier", '
                'measure=~"backlog_.+"}, "channel", "$1", "measure", "backlog_(.+)"))',
                "{{channel}}",
            ),
            width=8,
        )
    )
    board.with_panel(
        graph(
            "Notices waiting and retries",
            "Why are notices not delivered yet: quiet hours, an unknown member, no clock, a retry?",
            "short",
            query(
                'sum by (measure) (rituals_state{service="notifier", '
                'measure=~"notices_waiting_.+|notifications_retrying"})',
                "{{measure}}",
            ),
            width=8,
        )
    )


def published_by_matcher(event_type: str, window: str) -> str:
    return (
        'sum(increase(rituals_events_published_total{service="matcher", '
        f'type="rituals.coffee.{event_type}"}}[{window}]))'
    )


def round_total(measure: str) -> str:
    """How much a matcher measure summed over completed rounds grew in the time range (the
    measures come from the state, so a restart does not reset them)."""
    return f'sum(delta(rituals_state{{service="matcher", measure="{measure}"}}[$__range]))'


def per_round_completed(measure: str) -> str:
    """A round total per round completed in the time range; nothing without a round."""
    return f"{round_total(measure)} / ({round_total('rounds_completed')} > 0)"


def coffee(board: dashboard_builders.Dashboard) -> None:
    board.with_row(dashboard_builders.Row("Coffee rounds"))
    board.with_panel(
        graph(
            "Groups matched and members unmatched (1 h)",
            "Do rounds complete, and how many members could not be placed?",
            "short",
            query(published_by_matcher("round_completed", "1h"), "rounds completed"),
            query(published_by_matcher("matched", "1h"), "groups matched"),
            query(published_by_matcher("unmatched", "1h"), "members unmatched"),
            width=9,
        )
    )
    board.with_panel(
        figure(
            "Per round, over the time range",
            "How large are rounds: members taking part, groups formed and members left unmatched "
            "per completed round.",
            instant_query(per_round_completed("round_participants"), "members per round"),
            instant_query(per_round_completed("round_groups"), "groups per round"),
            instant_query(per_round_completed("round_unmatched"), "unmatched per round"),
            no_value="no round completed",
        ).decimals(1)
    )
    board.with_panel(
        graph(
            "Rounds and feedback",
            "How many rounds were held, and did the groups meet?",
            "short",
            query(
                'sum by (measure) (rituals_state{service="matcher", '
                'measure=~"rounds|feedback_.+"})',
                "{{measure}}",
            ),
            width=9,
        )
    )


def members(board: dashboard_builders.Dashboard) -> None:
    board.with_row(dashboard_builders.Row("Members and onboarding"))
    board.with_panel(
        graph(
            "Members by status",
            "How many members take part, paused, opted out or left (the matcher's directory)?",
            "short",
            query(
                'sum by (measure) (rituals_state{service="matcher", measure=~"members_.+"})',
                "{{measure}}",
            ),
        )
    )
    board.with_panel(
        graph(
            "Onboardings",
            "How many onboardings are open, waiting for a buddy, with check-ins pending?",
            "short",
            query(
                'sum by (measure) (rituals_state{service="onboarding", '
                'measure=~"onboardings_.+|checkins_pending"})',
                "{{measure}}",
            ),
        )
    )


def build() -> dashboard_models.Dashboard:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", SCHEMA_V2_ADVICE, DeprecationWarning)
        board = classic_dashboard()
    for section in (consumers, events, dead_letters, deliveries, coffee, members):
        section(board)
    model = board.build()
    number_panels(model)
    return model


def classic_dashboard() -> dashboard_builders.Dashboard:
    return (
        dashboard_builders.Dashboard("Rituals")
        .uid(DASHBOARD_UID)
        .description(
            "Consumers, rebuilds, events, dead letters, deliveries and coffee rounds of the "
            "Rituals services. Generated by infra/grafana/dashboard.py: do not edit the JSON."
        )
        .tags(["rituals"])
        .timezone("utc")
        .readonly()
        .refresh("30s")
        .time("now-6h", "now")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .with_variable(service_variable())
        .annotations([])
    )


def number_panels(model: dashboard_models.Dashboard) -> None:
    """Stable panel ids in reading order, so a link to one panel (``viewPanel=``) keeps working."""
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number


def render() -> str:
    return json.dumps(build(), cls=JSONEncoder, indent=2) + "\n"


def main() -> None:
    DASHBOARD_FILE.write_text(render())
    print(f"wrote {DASHBOARD_FILE}")


if __name__ == "__main__":
    main()
