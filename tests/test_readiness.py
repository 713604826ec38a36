"""``GET /readyz`` (issue 28): ready only when the database and the store answer; Streamlit's own health route
answers "ok" even with the database down, this one says 503 and why. A real ``streamlit run app.py`` server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from gtcore.ui import readiness
from tests.browser import REPO, StreamlitServer, free_port


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_readyz_beside_streamlits_health_on_a_real_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"GT_HOME": str(home), "GT_LOCAL_ROOTS": str(tmp_path), "GT_EMBEDDED_WORKER": "0"}
    with StreamlitServer(REPO / "app.py", env) as server:
        status, body = _get(server.base_url + "/readyz")
        assert status == 200 and body["status"] == "ready", body
        assert body["database"]["ok"] and body["database"]["detail"].startswith("sqlite")
        assert body["store"] and all(s["ok"] for s in body["store"])
    dead = f"postgresql+psycopg://gt:secret-pw@127.0.0.1:{free_port()}/gt"  # nothing listens there
    with StreamlitServer(REPO / "app.py", {**env, "GT_DATABASE_URL": dead}) as server:
        with urllib.request.urlopen(server.base_url + "/_stcore/health", timeout=30) as resp:
            assert resp.status == 200  # Streamlit's own route: "ok" with the database down
        status, body = _get(server.base_url + "/readyz")
        assert status == 503 and body["status"] == "unavailable"
        assert body["database"]["ok"] is False and "did not answer" in body["database"]["detail"]
        assert "secret-pw" not in json.dumps(body)  # the password never leaves the server


def test_readyz_says_unavailable_when_the_store_is_not_writable(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path / "missing-folder"))
    monkeypatch.delenv("GT_DATABASE_URL", raising=False)
    with TestClient(Starlette(routes=readiness.routes("/base"))) as client:
        resp = client.get("/base/readyz")
    assert resp.status_code == 503 and resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["database"]["ok"] is True
    assert [s["ok"] for s in body["store"]] == [False] and "does not exist" in body["store"][0]["detail"]
