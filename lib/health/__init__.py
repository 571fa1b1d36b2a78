"""Back-end health: every source and the payment gateway checked in the background.

`lib.health.checker.for_process(settings).snapshot()` is what the health panel shows.
"""

from lib.health.checker import HealthChecker, TargetHealth, for_process

__all__ = ["HealthChecker", "TargetHealth", "for_process"]
