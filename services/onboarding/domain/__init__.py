"""Pure domain logic of the onboarding: no I/O, no framework, no wall clock."""
