"""Workflows: declared steps across back ends (named queries, REST calls, one call per row of
an earlier step) combined in DuckDB.

- lib.workflows.declaration: workflows/<name>.toml -> Workflow (load_workflows, validate);
  lib.workflows.params: parse_params (run parameters from a URL or form);
- lib.workflows.runner: run_workflow -> RunResult (lib.workflows.model);
- lib.workflows.calls: one REST call with timeout and retries; lib.workflows.combine: the
  combine query in a private DuckDB connection;
- lib.workflows.runs / live: the recorded runs and the runs in progress in this process.

Nothing is imported here, so importing a declaration does not load DuckDB or HTTP clients.
"""
