"""The notifier's ways out: SMTP (or an outbox folder), Slack, Teams, a signed webhook, console."""
