"""The deployment kit (issue 24): the Dockerfile passes hadolint, the compose file Debian's `docker-compose config`,
the Kubernetes manifests `kubernetes-validate --strict`, and the compose file, the manifests and the README name
every setting gtcore reads (the list is derived from gtcore/core/settings.py, not copied)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gtcore.core.settings import RETIRED_SETTINGS

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S = sorted((DEPLOY / "kubernetes").glob("*.yaml"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (scripts/test installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def settings_names() -> set[str]:
    """Every GT_* variable Settings.from_env reads."""
    text = (REPO / "gtcore" / "core" / "settings.py").read_text()
    body = text[text.index("def from_env") :]
    names = set(re.findall(r'"(GT_[A-Z0-9_]+)"', body)) | set(re.findall(r'"(GT_[A-Z0-9_]+)"', text))
    names -= set(RETIRED_SETTINGS)  # refused by name, not read: the deployment files must not set them
    assert {"GT_DATABASE_URL", "GT_SECRET_KEY", "GT_S3_ENDPOINT_URL"} <= names
    return names


def test_dockerfile_passes_hadolint() -> None:
    out = subprocess.run([_tool("hadolint"), str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", text, re.M) and "HEALTHCHECK" in text and "/_stcore/health" in text
    # what `streamlit run app.py` needs is in the image (the product's .streamlit/config.toml hides the dev menu)
    for part in ("app.py", "pages", ".streamlit", "gtcore", "pyproject.toml"):
        assert re.search(rf"^COPY\s+(\S+\s+)*{re.escape(part)}\s", text, re.M), part
        assert (REPO / part).exists(), part


def test_compose_file_is_valid_and_needs_its_secrets(tmp_path: Path) -> None:
    tool = _tool("docker-compose")
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": "pw-for-check",
        "MINIO_ROOT_PASSWORD": "pw-for-check",
        "GT_SECRET_KEY": "k" * 40,
    }
    ok = subprocess.run(
        [tool, "-f", str(DEPLOY / "compose.yaml"), "config"], capture_output=True, text=True, env=env, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert "service_completed_successfully" in ok.stdout and "gtcore worker" not in ok.stderr
    # no default secrets: without them compose refuses to start
    bare = {k: v for k, v in env.items() if k not in ("GT_SECRET_KEY",)}
    refused = subprocess.run(
        [tool, "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=bare,
        timeout=120,
    )
    assert refused.returncode != 0 and "GT_SECRET_KEY" in refused.stderr


def test_kubernetes_manifests_validate() -> None:
    out = subprocess.run(
        [_tool("kubernetes-validate"), "-k", "1.30.0", "--strict", *map(str, K8S)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    kinds = " ".join(p.read_text() for p in K8S)
    for needed in (
        "kind: Deployment",
        "kind: Job",
        "kind: Secret",
        "sessionAffinity: ClientIP",
        "readinessProbe",
        "requests:",
    ):
        assert needed in kinds, needed


def test_compose_manifests_and_readme_name_every_setting() -> None:
    names = settings_names()
    compose = (DEPLOY / "compose.yaml").read_text()
    manifests = "\n".join(p.read_text() for p in K8S)
    readme = (DEPLOY / "README.md").read_text()
    main_readme = (REPO / "README.md").read_text()
    for where, text in (
        ("compose.yaml", compose),
        ("kubernetes/", manifests),
        ("deploy/README.md", readme),
        ("README.md", main_readme),
    ):
        missing = sorted(n for n in names if not re.search(rf"\b{n}\b", text))
        assert not missing, f"{where} does not name {missing}"
    # and none of them names a GT_ setting gtcore does not read
    for where, text in (("compose.yaml", compose), ("kubernetes/", manifests), ("deploy/README.md", readme)):
        unknown = sorted(
            set(re.findall(r"\b(GT_[A-Z0-9_]+)\b", text))
            - names
            - {"GT_WORKERS", "GT_BUCKET", "GT_IMAGE", "GT_HTTP_PORT"}
        )
        assert not unknown, f"{where} names settings gtcore does not read: {unknown}"
