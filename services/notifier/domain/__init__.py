"""Pure domain logic of the notifier: no I/O, no framework, no wall clock."""
