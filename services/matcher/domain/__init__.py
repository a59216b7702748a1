"""Pure domain logic of the matcher: no I/O, no framework, no wall clock."""
