"""Nederlandse teksten."""

from services.notifier.domain.templates.phrasebook import Phrasebook, Texts

DUTCH = Phrasebook(
    language="nl",
    greeting="Hoi {name},",
    sign_off="Fijne dag! Het Rituals-team",
    when="{date} om {time} ({zone})",
    duration="{minutes} minuten",
    label_when="Wanneer",
    label_length="Duur",
    label_how="Hoe",
    label_with="Met",
    label_where="Waar",
    label_link="Deelnemen",
    reasons_heading="Waarom deze match",
    video="Videogesprek",
    in_person="Op kantoor",
    in_person_at="Op kantoor in {office}",
    starter="Om het ijs te breken: {starter}",
    coffee_matched_video=Texts(
        subject="Koffie met {others}",
        lead="Je bent gekoppeld aan {others} voor een kop koffie via video.",
    ),
    coffee_matched_in_person=Texts(
        subject="Koffie met {others}",
        lead="Je bent gekoppeld aan {others} voor een kop koffie op kantoor.",
    ),
    coffee_title="Koffie met {others}",
    coffee_unmatched=Texts(
        subject="Deze ronde geen koffiematch",
        lead="We konden deze ronde helaas geen koffiematch voor je vinden.",
    ),
    unmatched_closing="Je doet in de volgende ronde weer mee.",
    buddy_assigned_new_hire=Texts(
        subject="Maak kennis met je onboarding-buddy, {buddy}",
        lead="Welkom! {buddy} is je buddy in je eerste weken: je kunt alles vragen.",
    ),
    buddy_assigned_buddy=Texts(
        subject="Je bent de onboarding-buddy van {new_hire}",
        lead="Bedankt dat je je aanmeldde: je bent de buddy van {new_hire} in de eerste weken.",
    ),
    buddy_reassigned_new_hire=Texts(
        subject="Je onboarding-buddy is nu {buddy}",
        lead="{buddy} neemt het over als je buddy.",
    ),
    buddy_reassigned_buddy=Texts(
        subject="Je bent nu de onboarding-buddy van {new_hire}",
        lead="{new_hire} heeft een nieuwe buddy nodig, en dat ben jij. Bedankt!",
    ),
    checkin_due=Texts(
        subject="Onboarding-check-in ({label}) met {other}",
        lead="Het is tijd voor de check-in ({label}) met {other}.",
    ),
    checkin_title="Onboarding-check-in ({label})",
    ritual_reminder=Texts(
        subject="Herinnering: {title}",
        lead="{title} begint op {when}.",
    ),
    ritual_invitation=Texts(
        subject="In je agenda: {title}",
        lead="{title} is een ritueel van je team, en de hele reeks staat in je agenda. "
        "Volgende keer: {when}.",
    ),
    ritual_occurrence_cancelled=Texts(
        subject="Gaat niet door: {title} op {when}",
        lead="{title} op {when} gaat niet door. De rest van de reeks blijft in je agenda.",
    ),
    ritual_series_cancelled=Texts(
        subject="Gaat niet door: {title}",
        lead="{title} gaat niet meer door, en de reeks verdwijnt uit je agenda.",
    ),
    team_digest=Texts(
        subject="{team} deze week: {participants} van de {active} drinken koffie",
        lead="Zo verbindt {team} zich. Alleen jij, als teamleider, krijgt deze namen.",
    ),
    label_taking_part="Koffie deze week",
    taking_part="{participants} van de {active}",
    label_quiet="Geen koffie in {rounds} rondes of meer",
    nobody="niemand",
    label_new_hires="Nieuwe collega's",
    new_hire_met="{member} ({count} ontmoet)",
    suggestions_heading="Wat het platform deze ronde doet",
    suggestion_quiet="{member} heeft al een tijd geen koffie gehad: deze ronde koppelt hen aan "
    "{partner} ({partner_team}).",
    suggestion_new_hire_few_connections="{member} is nieuw en heeft nog weinig mensen ontmoet: "
    "deze ronde koppelt hen aan {partner} ({partner_team}).",
    suggestion_only_own_team="{member} heeft nog niemand buiten {team} ontmoet: deze ronde "
    "koppelt hen aan {partner} ({partner_team}).",
    label_attendance="Rituelen vorige week",
    attendance="{attended} van de {invited} waren erbij ({count} keer gehouden)",
    label_pulse="Pulse vorige week",
    pulse_mean="{mean} van de 5 ({count} antwoorden)",
    pulse_too_few="minder dan 5 antwoorden",
    pulse=Texts(
        subject="Hoe verbonden voelde je je deze week?",
        lead="Hoe verbonden voelde je je deze week met je collega's? Kies 1 (helemaal niet) tot "
        "5 (heel erg). Het is vrijblijvend, en alleen teamcijfers van 5 antwoorden of meer worden "
        "ooit getoond.",
    ),
    pulse_closing="Eén klik is genoeg; een latere klik wijzigt je antwoord.",
)
