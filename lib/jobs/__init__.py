"""Background work of an app process: `lib.jobs.worker.for_process(settings)` (see there)."""
