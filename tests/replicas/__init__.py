"""Helpers of tests/integration/test_two_processes.py: several app processes on one PostgreSQL."""
