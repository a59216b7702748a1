"""What the insights report holds: frozen models, so JSON is ``model_dump_json``.

The organisation view holds aggregate numbers only; member ids and names appear only in the team
view (``view == "team"``), which is meant for the team's lead acting as connector.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ConnectionKind = Literal["coffee", "buddy", "ritual"]
View = Literal["organisation", "team"]
WatchReason = Literal["quiet", "new_hire_few_connections"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoundFigure(Frozen):
    """One coffee round, within the scope of the report (the organisation or the team)."""

    round_id: str
    week_starting: date
    active: int = Field(description="Members in scope taking part at the round, or matched in it.")
    participants: int = Field(description="Of them, members in a matched group of the round.")
    participation: float | None = Field(description="participants / active.")
    pairs: int = Field(description="Pairs of counted groups with a member in scope.")
    cross_team_pairs: int = Field(description="Of them, pairs of members of different teams.")
    cross_team_share: float | None = Field(description="cross_team_pairs / pairs.")


class CoffeeFigures(Frozen):
    rounds: int
    participation: float | None = Field(
        description="Sum of participants over the sum of active members, over every round."
    )
    reach: float | None = Field(
        description="Share of the members active now who were matched in at least one round."
    )
    groups: int = Field(description="Matched groups with a member in scope.")
    groups_with_feedback: int
    groups_met: int = Field(description="Groups with feedback where someone said they met.")
    happened_share: float | None = Field(description="groups_met / groups_with_feedback.")


class RitualFigure(Frozen):
    ritual_id: str
    title: str
    team: str
    occurrences: int = Field(description="Held occurrences.")
    attended: int = Field(description="Attendances of active team members, summed.")
    expected: int = Field(description="Active team members at each occurrence, summed.")
    attendance: float | None = Field(description="attended / expected.")


class AttendanceWeek(Frozen):
    """Ritual attendance of one week (Monday to Sunday, UTC), rituals in scope."""

    week_starting: date
    occurrences: int = Field(description="Held occurrences that started that week, by now.")
    attended: int = Field(description="Attendances of active team members, summed.")
    expected: int = Field(description="Active team members at each occurrence, summed.")
    attendance: float | None = Field(description="attended / expected.")


class PulseWeek(Frozen):
    """The weekly pulse ("How connected did you feel to your colleagues this week?", 1-5) of
    one group in one week: aggregates only, and a figure only from 5 answers on."""

    week_starting: date
    team: str | None = Field(
        description="The team (its members' team when they answered); null: the whole scope."
    )
    answers: int = Field(description="Counted answers (a member's latest of the week).")
    mean: float | None = Field(
        description="Mean score, 2 decimals; null with fewer than 5 answers (no figure, so no "
        "answer can be traced to a person)."
    )
    shown: bool = Field(description="Whether the group has the 5 answers a figure needs.")


class ConnectionFigures(Frozen):
    members: int = Field(description="Members in scope who have not left.")
    connections: int = Field(description="Edges of the graph touching a member in scope.")
    by_kind: dict[str, int] = Field(description="Edges per kind (an edge may have several).")
    colleagues_met_mean: float | None = Field(description="Mean degree of active members.")
    colleagues_met_median: float | None = Field(description="Median degree of active members.")
    cross_team: int = Field(description="Edges between members of different teams.")
    cross_team_share: float | None = Field(description="cross_team / connections.")
    components: int = Field(description="Connected components among the members in scope.")
    component_sizes: tuple[int, ...] = Field(description="Their sizes, largest first.")
    isolated: int = Field(description="Members in scope without any connection.")


class TeamPair(Frozen):
    """Every pair of teams (in the team view: every pair with the team), measured two ways:
    direct connections between them, and whether a path of connections links them at all
    (through other teams' members too); bridges and connectors are about the path."""

    teams: tuple[str, str]
    connections: int = Field(description="Edges between the two teams (direct links).")
    linked: bool = Field(description="A path of connections joins a member of each team.")
    bridges: int = Field(description="Bridge edges without which the two teams are apart.")
    connectors: int = Field(description="People without whom the two teams are apart.")


class Connector(Frozen):
    """Team view only: a person who alone keeps teams linked (an articulation point)."""

    member_id: str
    name: str
    team: str
    links: tuple[tuple[str, str], ...]


class MemberRow(Frozen):
    """Team view only: one member of the team."""

    member_id: str
    name: str
    status: str = Field(description="Status now; a pause that has ended is over: active.")
    new_hire: bool
    connections: int
    cross_team: int
    last_touchpoint: datetime | None = Field(description="Latest social moment up to now.")
    last_kind: ConnectionKind | None
    next_touchpoint: datetime | None = Field(
        description="Next social moment after now (upcoming: not counted yet), if one is known."
    )
    next_kind: ConnectionKind | None


class WatchEntry(Frozen):
    """Team view only: a member who may need a connector's attention."""

    member_id: str
    name: str
    reason: WatchReason
    detail: str


class TeamWatchCounts(Frozen):
    team: str
    active: int
    quiet: int
    new_hires_few_connections: int


class Watchlist(Frozen):
    quiet_weeks: int
    min_new_hire_connections: int
    new_hire_days: int
    counts: tuple[TeamWatchCounts, ...]
    people: tuple[WatchEntry, ...] = Field(description="Empty in the organisation view.")


class GraphNode(Frozen):
    key: str = Field(description="Member id in the team view, an opaque index otherwise.")
    team: str
    label: str | None = Field(description="Display name, only for the team's members.")


class GraphEdge(Frozen):
    a: str
    b: str
    kinds: tuple[ConnectionKind, ...]
    cross_team: bool


class Graph(Frozen):
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


class Insights(Frozen):
    organisation: str
    team: str | None
    view: View
    now: datetime | None = Field(description="Domain time of the report: the latest clock tick.")
    events: int = Field(description="Distinct events of the organisation read.")
    members_by_status: dict[str, int] = Field(
        description="Members in scope per status now (joined by now; a pause that has ended "
        "counts as active)."
    )
    teams: tuple[str, ...] = Field(description="Every team of the organisation, sorted.")
    coffee: CoffeeFigures
    rounds: tuple[RoundFigure, ...]
    rituals: tuple[RitualFigure, ...]
    ritual_attendance: float | None = Field(description="Attended over expected, every ritual.")
    attendance_weeks: tuple[AttendanceWeek, ...] = Field(
        default=(), description="Ritual attendance per week, oldest first."
    )
    pulse: tuple[PulseWeek, ...] = Field(
        default=(),
        description="The pulse per week (oldest first): the scope's figure (team null), then "
        "each team's.",
    )
    connections: ConnectionFigures
    team_pairs: tuple[TeamPair, ...]
    connectors: tuple[Connector, ...]
    members: tuple[MemberRow, ...]
    watchlist: Watchlist
    graph: Graph
