"""The living demo behind ``make run``: a generated organisation, twelve simulated weeks."""
