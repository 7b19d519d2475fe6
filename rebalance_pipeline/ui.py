"""``make dagster-dev``: the Dagster UI on the instance ``rebalance run`` writes to, with the
date's data docs served beside it so the UI's links to them open.

The instance is ``$REBALANCE_HOME/dagster`` (``runner.dagster_home``, with its
``dagster.yaml``), the book ``$REBALANCE_BOOK``, both made absolute for the processes
``dagster dev`` starts. Ctrl-C (SIGINT to the terminal's process group) reaches
``dagster dev``, which stops its webserver, daemon and code server; the data docs server
stops when it has.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from rebalance_pipeline import storage
from rebalance_pipeline.runner import dagster_home
from rebalance_pipeline.validation.data_docs import DOCS_URL_ENV, docs_app

HOST = "127.0.0.1"
# `dagster dev` says it is superseded by `dg dev`, which needs the dagster-dg-cli package
# and a project layout this repository does not use; it still works as documented
SUPERSEDED_DEV = "ignore:Function `dev_command` is superseded"


def serve(workspace: Path, port: int, docs_port: int) -> int:
    """Run ``dagster dev`` and the data docs server until Ctrl-C; dagster dev's exit code."""
    home = storage.home()
    os.environ[storage.HOME_ENV] = str(home)
    os.environ[storage.BOOK_ENV] = str(storage.book_root())
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    os.environ[DOCS_URL_ENV] = f"http://{HOST}:{docs_port}"
    docs = DocsServer(home / "data_docs", docs_port)
    docs.start()
    try:
        return _dagster_dev(workspace, port)
    finally:
        docs.stop()


def _dagster_dev(workspace: Path, port: int) -> int:
    warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), SUPERSEDED_DEV]))
    command = [str(Path(sys.executable).parent / "dagster"), "dev", "-w", str(workspace)]
    dev = subprocess.Popen(
        [*command, "-h", HOST, "-p", str(port)], env={**os.environ, "PYTHONWARNINGS": warnings}
    )
    try:
        return dev.wait()
    except KeyboardInterrupt:  # dagster dev got the same Ctrl-C: let it shut down
        return dev.wait()


class DocsServer:
    """The data docs over HTTP on 127.0.0.1, in a thread of this process."""

    def __init__(self, folder: Path, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(docs_app(folder), host=HOST, port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="data-docs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
