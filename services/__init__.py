"""The Rituals services (matcher, onboarding, notifier), their shared runtime and the CLI."""
