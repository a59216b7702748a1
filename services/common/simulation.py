"""Generated organisations for demos, benchmarks and tests, always the same for a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, time, timedelta

from schemas.members import MemberJoined

TEAMS = (
    ("Platform", "Engineering"),
    ("Payments", "Engineering"),
    ("Mobile", "Engineering"),
    ("Data", "Engineering"),
    ("Sales", "Commercial"),
    ("Marketing", "Commercial"),
    ("Support", "Operations"),
    ("Finance", "Operations"),
    ("People", "Operations"),
    ("Design", "Product"),
    ("Research", "Product"),
    ("Legal", "Operations"),
)
OFFICES = {
    "Europe/Amsterdam": "Amsterdam",
    "Europe/London": "London",
    "America/New_York": "New York",
    "Europe/Lisbon": "Lisbon",
    "Asia/Kolkata": "Bangalore",
    "America/Chicago": "Chicago",
}
INTERESTS = (
    "cycling",
    "running",
    "chess",
    "board games",
    "cooking",
    "baking",
    "photography",
    "gardening",
    "climbing",
    "music",
    "guitar",
    "films",
    "reading",
    "travel",
    "football",
    "yoga",
    "hiking",
    "coffee",
    "podcasts",
    "painting",
)
FIRST_NAMES = (
    "Ada",
    "Bram",
    "Chloé",
    "Daan",
    "Emma",
    "Femke",
    "Gijs",
    "Hana",
    "Iris",
    "Joost",
    "Kiran",
    "Lotte",
    "Mila",
    "Noah",
    "Olu",
    "Priya",
    "Quinn",
    "Ruben",
    "Sanne",
    "Tomás",
    "Uma",
    "Vera",
    "Wout",
    "Xin",
    "Yara",
    "Zoë",
)
LAST_NAMES = (
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Okafor",
    "Sharma",
    "Costa",
    "Smith",
)


@dataclass(frozen=True)
class OrganisationShape:
    members: int = 150
    teams: int = 10
    timezones: tuple[str, ...] = (
        "Europe/Amsterdam",
        "Europe/London",
        "America/New_York",
        "Europe/Lisbon",
    )
    dutch_share: float = 0.4
    volunteer_share: float = 0.2
    email_share: float = 0.0
    """Members who prefer e-mail; the others take the organisation's default channel."""
    today: date = date(2026, 3, 2)


def distinct_names(seed: int, count: int) -> list[str]:
    """``count`` different display names: two colleagues with the same name would make a report
    ambiguous. Beyond the combinations of first and last names, a number tells them apart."""
    combinations = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    random.Random(f"names/{seed}").shuffle(combinations)
    return [
        combinations[n % len(combinations)]
        + (f" {n // len(combinations) + 1}" if n >= len(combinations) else "")
        for n in range(count)
    ]


def generate_members(
    seed: int, shape: OrganisationShape = OrganisationShape()
) -> list[MemberJoined]:
    """Members with teams, managers, time zones, office days, languages and interests."""
    rng = random.Random(seed)
    teams = (
        TEAMS[: shape.teams]
        if shape.teams <= len(TEAMS)
        else [(f"Team {n + 1}", TEAMS[n % len(TEAMS)][1]) for n in range(shape.teams)]
    )
    managers: dict[str, str] = {}
    members = []
    names = distinct_names(seed, shape.members)
    for number in range(shape.members):
        team, department = teams[number % len(teams)]
        member_id = f"m{number:06d}"
        timezone = shape.timezones[rng.randrange(len(shape.timezones))]
        start = rng.choice((time(8, 0), time(8, 30), time(9, 0), time(9, 30), time(10, 0)))
        end = time(start.hour + 8, start.minute)
        languages = ("nl", "en") if rng.random() < shape.dutch_share else ("en",)
        prefers_email = shape.email_share > 0 and rng.random() < shape.email_share
        members.append(
            MemberJoined(
                member_id=member_id,
                display_name=names[number],
                email=f"{member_id}@example.org",
                team=team,
                department=department,
                manager_id=managers.get(team),
                timezone=timezone,
                working_hours={"start": start, "end": end},
                office_days=tuple(sorted(rng.sample(("mon", "tue", "wed", "thu", "fri"), 2))),
                office=OFFICES.get(timezone),
                languages=languages,
                interests=tuple(rng.sample(INTERESTS, rng.randint(1, 4))),
                start_date=shape.today - timedelta(days=rng.randint(200, 3000)),
                buddy_volunteer=rng.random() < shape.volunteer_share,
                notification_channels=("email",) if prefers_email else (),
            )
        )
        managers.setdefault(team, member_id)
    return members
