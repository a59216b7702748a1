"""English templates."""

from services.notifier.domain.templates.phrasebook import Phrasebook, Texts

ENGLISH = Phrasebook(
    language="en",
    greeting="Hi {name},",
    sign_off="Have a good one! The Rituals team",
    when="{date} at {time} ({zone})",
    duration="{minutes} minutes",
    label_when="When",
    label_length="Length",
    label_how="How",
    label_with="With",
    label_where="Where",
    label_link="Join",
    reasons_heading="Why this match",
    video="Video call",
    in_person="In person",
    in_person_at="In person at {office}",
    starter="To break the ice: {starter}",
    coffee_matched_video=Texts(
        subject="Coffee with {others}",
        lead="You are matched with {others} for a coffee over video.",
    ),
    coffee_matched_in_person=Texts(
        subject="Coffee with {others}",
        lead="You are matched with {others} for a coffee at the office.",
    ),
    coffee_title="Coffee with {others}",
    coffee_unmatched=Texts(
        subject="No coffee match this round",
        lead="We could not find a coffee match for you this round, sorry.",
    ),
    unmatched_closing="You are in the next round again.",
    buddy_assigned_new_hire=Texts(
        subject="Meet your onboarding buddy, {buddy}",
        lead="Welcome aboard! {buddy} is your buddy for your first weeks: ask them anything.",
    ),
    buddy_assigned_buddy=Texts(
        subject="You are the onboarding buddy of {new_hire}",
        lead="Thank you for volunteering: you are {new_hire}'s buddy for their first weeks.",
    ),
    buddy_reassigned_new_hire=Texts(
        subject="Your onboarding buddy is now {buddy}",
        lead="{buddy} takes over as your buddy.",
    ),
    buddy_reassigned_buddy=Texts(
        subject="You are now the onboarding buddy of {new_hire}",
        lead="{new_hire} needs a new buddy, and it is you. Thank you!",
    ),
    checkin_due=Texts(
        subject="Onboarding check-in ({label}) with {other}",
        lead="It is time for the {label} check-in with {other}.",
    ),
    checkin_title="Onboarding check-in ({label})",
    ritual_reminder=Texts(
        subject="Reminder: {title}",
        lead="{title} starts on {when}.",
    ),
    ritual_invitation=Texts(
        subject="In your calendar: {title}",
        lead="{title} is a ritual of your team, and the whole series is in your calendar. "
        "Next: {when}.",
    ),
    ritual_occurrence_cancelled=Texts(
        subject="Cancelled: {title} on {when}",
        lead="{title} on {when} does not take place. The rest of the series stays in your "
        "calendar.",
    ),
    ritual_series_cancelled=Texts(
        subject="Cancelled: {title}",
        lead="{title} no longer takes place, and the series leaves your calendar.",
    ),
    team_digest=Texts(
        subject="{team} this week: {participants} of {active} have a coffee",
        lead="Here is how {team} is connecting. Only you, as its lead, receive these names.",
    ),
    label_taking_part="Coffee this week",
    taking_part="{participants} of {active}",
    label_quiet="No coffee for {rounds} rounds or more",
    nobody="nobody",
    label_new_hires="New hires",
    new_hire_met="{member} (met {count})",
    suggestions_heading="What the platform does this round",
    suggestion_quiet="{member} has had no coffee for a while: this round pairs them with "
    "{partner} ({partner_team}).",
    suggestion_new_hire_few_connections="{member} is new and has met few people so far: this "
    "round pairs them with {partner} ({partner_team}).",
    suggestion_only_own_team="{member} has met nobody outside {team}: this round pairs them with "
    "{partner} ({partner_team}).",
    label_attendance="Rituals last week",
    attendance="{attended} of {invited} attended ({count} held)",
    label_pulse="Pulse last week",
    pulse_mean="{mean} of 5 ({count} answers)",
    pulse_too_few="fewer than 5 answers",
    pulse=Texts(
        subject="How connected did you feel this week?",
        lead="How connected did you feel to your colleagues this week? Pick 1 (not at all) to "
        "5 (very). It is optional, and only team figures of 5 answers or more are ever shown.",
    ),
    pulse_closing="One click is enough; another click later changes your answer.",
)
