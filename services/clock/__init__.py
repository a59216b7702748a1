"""The clock: time as events. It publishes ``rituals.clock.ticked`` for every organisation,
from the wall clock (``python -m services.clock``, started by ``rituals up``) or simulated
(the demo), so that services decide from ticks and never read the time themselves."""
