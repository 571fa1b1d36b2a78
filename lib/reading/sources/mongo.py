"""The `mongo` kind: collections read with pymongo (or mongomock) and flattened to tables."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
from pymongo.errors import PyMongoError

from lib.errors import SourceUnavailable
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.flatten import to_arrow

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client_for(uri: str, timeout_ms: int) -> Any:
    """One client per URI per process: a mongomock store lives only inside its client."""
    with _lock:
        if uri not in _clients:
            if uri.startswith("mongomock://"):
                import mongomock

                _clients[uri] = mongomock.MongoClient()
            else:
                from pymongo import MongoClient

                _clients[uri] = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, tz_aware=True)
        return _clients[uri]


def _seed_if_empty(collection: Any, seed_file: Path) -> None:
    # Demo only: the in-memory stand-in starts empty in every process.
    if collection.estimated_document_count() == 0 and seed_file.exists():
        docs = json.loads(seed_file.read_text(encoding="utf-8"))
        if docs:
            collection.insert_many(docs)


def load(cfg: SourceConfig) -> dict[str, pa.Table]:
    """Every configured collection as a flat Arrow table."""
    uri = cfg.secrets.get("uri") or cfg.options.get("uri")
    if not uri:
        raise SourceUnavailable(cfg.name, "no `uri` or `uri_secret` configured")
    timeout_ms = int(float(cfg.options.get("timeout", 5)) * 1000)
    try:
        db = client_for(str(uri), timeout_ms)[cfg.options.get("database", "test")]
        tables: dict[str, pa.Table] = {}
        for name, spec in (cfg.options.get("collections") or {}).items():
            spec = spec or {}
            coll = db[spec.get("collection", name)]
            if seed := spec.get("seed_file"):
                _seed_if_empty(coll, Path(cfg.options.get("base_dir", ".")) / seed)
            docs = coll.find(spec.get("filter", {}), spec.get("projection"))
            tables[name] = to_arrow(docs)
        return tables
    except PyMongoError as exc:
        raise SourceUnavailable(cfg.name, f"MongoDB: {type(exc).__name__}") from exc
