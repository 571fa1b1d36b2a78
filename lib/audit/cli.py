"""`python -m lib.audit verify [--url URL]`: check the chain; exit 0 intact, 1 broken, 2 unable."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from lib.audit.store import AuditStore
from lib.errors import BackofficeError


def _default_url() -> str:
    from lib.config.settings import load_settings  # only when needed: --url works without a config

    return load_settings().audit_url


def verify(url: str) -> int:
    parsed = sa.make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        print(f"no audit database at {shown}", file=sys.stderr)  # and don't create one
        return 2
    store = AuditStore(parsed)
    try:
        if not store.has_schema():
            print(f"no audit_log table in {shown}", file=sys.stderr)
            return 2
        report = store.verify()
    except sa.exc.OperationalError as exc:
        print(f"cannot read {shown}: {str(exc.orig).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    if report.ok:
        print(f"chain ok: {report.rows_checked} rows")
        return 0
    print(f"chain broken at row {report.first_broken_id}: {report.problem}")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the hash chain of audit_log")
    check.add_argument("--url", help="SQLAlchemy URL (default: [audit] url in the config)")
    args = parser.parse_args(argv)
    try:
        url = args.url or _default_url()
        return verify(url)
    except BackofficeError as exc:
        print(exc, file=sys.stderr)
        return 2
