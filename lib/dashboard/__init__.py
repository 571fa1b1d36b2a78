"""The analyst's dashboard: its filters (model, filters), its figures read from named queries
over snapshots (data) and its charts (charts), shared by the page and the reports."""
