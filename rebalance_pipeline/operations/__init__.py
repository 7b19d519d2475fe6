"""Daily operations: the business-day schedule, the custodian drop-folder sensor and the
desk's deadline on the outputs it waits for.

``SCHEDULES`` and ``SENSORS`` go into the code location's ``Definitions``, and
``with_desk_deadline(assets, OPERATIONS)`` puts the deadline on its assets. The schedule's
time and the deadline come from the book's ``firm/operations.yaml`` (defaults otherwise)
when the code location loads; the sensor re-reads the file on every evaluation.
"""

from rebalance_pipeline.operations.config import OperationsConfig, load_operations_config
from rebalance_pipeline.operations.freshness import with_desk_deadline
from rebalance_pipeline.operations.schedules import daily_schedule
from rebalance_pipeline.operations.sensors import drop_sensor
from rebalance_pipeline.resources import BookSource

OPERATIONS = load_operations_config(BookSource().path())
SCHEDULES = [daily_schedule(OPERATIONS)]
SENSORS = [drop_sensor(OPERATIONS)]

__all__ = [
    "OPERATIONS",
    "SCHEDULES",
    "SENSORS",
    "OperationsConfig",
    "load_operations_config",
    "with_desk_deadline",
]
