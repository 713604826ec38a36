"""The app's embedded background worker: ``streamlit run app.py`` runs one ``gtcore.work.runner.run`` loop in a
thread of the server process, started with the server (app.py's lifespan; a page run finds the same one) and
stopped with it: on a normal exit ``atexit`` tells the loop to stop and joins it for up to ``STOP_WAIT_SECONDS``;
when the server process ends on a signal the (daemon) thread ends with it, and an item it was running is taken
over by any worker after its lease. So a fresh install does all its background work without a second command
(also when only the SageMaker API is used); more workers are ``gtcore worker`` processes anywhere sharing the
database and the store. ``GT_EMBEDDED_WORKER=0`` turns it off.
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass

import streamlit as st

from gtcore.context import Context
from gtcore.core.settings import Settings
from gtcore.work import runner

log = logging.getLogger(__name__)
STOP_WAIT_SECONDS = 10.0


@dataclass
class EmbeddedWorker:
    name: str
    thread: threading.Thread
    stop: threading.Event

    def shutdown(self) -> None:
        self.stop.set()
        self.thread.join(STOP_WAIT_SECONDS)


@st.cache_resource(show_spinner=False)
def _start(settings: Settings) -> EmbeddedWorker:
    ctx = Context.from_settings(settings)  # its own engine: the pages' pool is never starved by the worker
    stop = threading.Event()
    name = "embedded-" + runner.worker_name()
    thread = threading.Thread(target=runner.run, args=(ctx, stop), kwargs={"name": name}, name=name, daemon=True)
    thread.start()
    worker = EmbeddedWorker(name, thread, stop)
    atexit.register(worker.shutdown)
    log.info("embedded background worker %s started", name)
    return worker


def ensure_started() -> EmbeddedWorker | None:
    """Start the embedded worker once per server process (no-op when GT_EMBEDDED_WORKER=0)."""
    settings = Settings.from_env()
    if not settings.embedded_worker:
        return None
    return _start(settings)
