"""Back-end health: every source and the payment gateway checked in the background.

`lib.health.checker.for_process(settings).snapshot()` is what the health panel shows
(nothing imported here: lib.config.settings checks `[health]` with lib.health.config, and
that must not pull in the checker and Streamlit).
"""
