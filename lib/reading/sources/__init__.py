"""Readers for each kind of source; the engine loads their tables into DuckDB."""
