"""`streamlit run` with a server-side timer: each script run's duration appended to a file.

    python -m bench.scale_server RUN_LOG run Home.py --server.port 8599 …

bench.scale_load starts the app this way to read the server's own time per interaction
(the run of the script a widget change starts, full or fragment), apart from the browser's.
Each line of RUN_LOG: unix time at the end, seconds, "full" or "fragment". Nothing of the app
changes: ScriptRunner._run_script is wrapped in this process only.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any


def read_runs(path: Path, since: float, until: float) -> list[tuple[float, str]]:
    """(seconds, kind) of the runs that ended between `since` and `until` (unix times)."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        ended, took, kind = line.split()
        if since <= float(ended) <= until:
            out.append((float(took), kind))
    return out


def _install(log: Path) -> None:
    from streamlit.runtime.scriptrunner import script_runner

    original = script_runner.ScriptRunner._run_script
    lock = threading.Lock()

    def timed(self: Any, rerun_data: Any) -> None:
        start = time.perf_counter()
        try:
            original(self, rerun_data)
        finally:
            took = time.perf_counter() - start
            kind = "fragment" if rerun_data.fragment_id_queue else "full"
            with lock, open(log, "a", encoding="utf-8") as f:
                f.write(f"{time.time():.3f} {took:.4f} {kind}\n")

    script_runner.ScriptRunner._run_script = timed


def main() -> None:
    log, *streamlit_args = sys.argv[1:]
    _install(Path(log))
    from streamlit.web import cli

    sys.argv = ["streamlit", *streamlit_args]
    cli.main()


if __name__ == "__main__":
    main()
