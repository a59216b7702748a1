"""Pure domain logic shared by the services: standard library, pydantic and ``schemas`` only."""
