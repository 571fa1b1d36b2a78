"""Benchmarks of the project's own code paths: `make bench`, or `python -m bench.<name>`.

join_paths (read paths over TPC-H in PostgreSQL), approvals (order.approve with the audit
chain), masking (mask_frame). Each writes its figures to test-artifacts/bench/<name>.json.
"""
