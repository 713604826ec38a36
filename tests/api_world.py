"""A world for the SageMaker API tests and bench: a database with an admin, an auditor and a worker (each
with an access key), team ``team-a``, real images, and real servers (``gtcore serve-api`` or ``streamlit run
app.py``) driven by the real boto3 client and the real AWS CLI.

    world = ApiWorld.create(tmp_path, db_url)
    with world.serve_api() as url:                 # or world.streamlit() (then url = <app>/api/sagemaker)
        sm = world.client(url, world.admin_key)
        sm.create_labeling_job(**world.documented_request("job-1"))
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.workforce import access_keys
from gtcore.workforce.access_keys import NewAccessKey
from tests.browser import REPO, StreamlitServer, free_port, wait_until
from tests.fixtures.core import make_settings
from tests.fixtures.jobs import write_png
from tests.fixtures.people import People

REGION = "local"
SERVER_KEY = access_keys.generate_server_key()
# the bounding-box worker template of Ground Truth's documentation (sms-bounding-box), as a team keeps it in S3
BOX_TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-bounding-box name="boundingBox" src="{{ task.input.taskObject | grant_read_access }}"
    header="Draw a box around each animal" labels="{{ task.input.labels | to_json | escape }}">
    <full-instructions header="Bounding box instructions"><p>Draw a tight box.</p></full-instructions>
    <short-instructions><p>Draw a box around each animal.</p></short-instructions>
  </crowd-bounding-box>
</crowd-form>
"""


@dataclass
class ApiWorld:
    ctx: Context
    root: Path
    people: People
    admin: Actor
    auditor: Actor
    worker: Actor
    admin_key: NewAccessKey
    auditor_key: NewAccessKey
    worker_key: NewAccessKey
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, tmp_path: Path, db_url: str | None = None) -> ApiWorld:
        env = {"GT_SECRET_KEY": SERVER_KEY, "GT_AWS_REGION": REGION}
        settings = make_settings(tmp_path, database_url=db_url, **env)
        ctx = Context.from_settings(settings)
        people = People(ctx)
        admin = people.root()
        people.team("team-a")
        auditor = people.auditor()
        worker = people.worker("team-a")
        keys = [access_keys.create_access_key(ctx, admin, a.user_id or 0) for a in (admin, auditor, worker)]
        env.update(
            {
                "GT_HOME": str(settings.home),
                "GT_LOCAL_ROOTS": str(tmp_path),
                "GT_DATABASE_URL": settings.database_url,
            }
        )
        return cls(ctx, tmp_path, people, admin, auditor, worker, *keys, env=env)

    # ------------------------------------------------------------------ data

    def documented_request(self, name: str, n_images: int = 3, team: str = "team-a") -> dict[str, Any]:
        """Ground Truth's documented CreateLabelingJob example (Developer Guide, "Create a Labeling Job (API)",
        bounding boxes), only names and URIs changed: local absolute paths for the S3 URIs, our team."""
        images = [write_png(self.root / "images" / name / f"img_{i:03d}.png", i) for i in range(n_images)]
        manifest = self.root / "manifests" / f"{name}.manifest"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text("".join(json.dumps({"source-ref": str(p)}) + "\n" for p in images))
        labels = self.root / "labels" / f"{name}.json"
        labels.parent.mkdir(parents=True, exist_ok=True)
        labels.write_text(
            json.dumps({"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "dog"}]})
        )
        template = self.root / "templates" / "bounding-box.liquid.html"
        template.parent.mkdir(parents=True, exist_ok=True)
        template.write_text(BOX_TEMPLATE)
        return {
            "LabelingJobName": name,
            "LabelAttributeName": "label",
            "InputConfig": {
                "DataSource": {"S3DataSource": {"ManifestS3Uri": str(manifest)}},
                "DataAttributes": {"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]},
            },
            "OutputConfig": {"S3OutputPath": str(self.root / "output")},
            "RoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole",
            "LabelCategoryConfigS3Uri": str(labels),
            "HumanTaskConfig": {
                "WorkteamArn": f"arn:aws:sagemaker:{REGION}:000000000000:workteam/private-crowd/{team}",
                "UiConfig": {"UiTemplateS3Uri": str(template)},
                "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox",
                "TaskKeywords": ["Images", "Bounding Box"],
                "TaskTitle": "Bounding box task",
                "TaskDescription": "Draw a box around each animal",
                "NumberOfHumanWorkersPerDataObject": 1,
                "TaskTimeLimitInSeconds": 3600,
                "TaskAvailabilityLifetimeInSeconds": 21600,
                "MaxConcurrentTaskCount": 1000,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:ACS-BoundingBox"
                },
            },
            "Tags": [{"Key": "project", "Value": "pets"}],
        }

    # ------------------------------------------------------------------ servers

    @contextlib.contextmanager
    def serve_api(self, extra_env: dict[str, str] | None = None) -> Iterator[str]:
        """``gtcore serve-api`` in a subprocess; yields its base URL (it also answers at /api/sagemaker)."""
        port = free_port()
        env = {**os.environ, **self.env, **(extra_env or {})}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        log = self.root / f"serve-api-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gtcore.cli.command",
                    "serve-api",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                cwd=str(REPO),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _listening(port) or proc.poll() is not None, timeout=60.0, what="gtcore serve-api")
            if proc.poll() is not None:
                raise RuntimeError(f"gtcore serve-api exited: {log.read_text()[-3000:]}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            print(f"--- serve-api log ---\n{log.read_text()[-3000:]}")

    @contextlib.contextmanager
    def streamlit(self, extra_env: dict[str, str] | None = None) -> Iterator[str]:
        """``streamlit run app.py``; yields the API's URL (``<app>/api/sagemaker``)."""
        server = StreamlitServer(REPO / "app.py", {**self.env, **(extra_env or {})}, log_path=self.root / "st.log")
        server.start()
        try:
            yield server.base_url + "/api/sagemaker"
        finally:
            print(f"--- streamlit log ---\n{server.log_tail()}")
            server.stop()

    # ------------------------------------------------------------------ clients

    def client(self, url: str, key: NewAccessKey | None = None, *, secret: str | None = None, **kw: Any) -> Any:
        import boto3
        from botocore.config import Config

        key = key or self.admin_key
        return boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name=kw.pop("region_name", REGION),
            aws_access_key_id=kw.pop("key_id", key.key_id),
            aws_secret_access_key=secret or key.secret,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, **kw),
        )

    def aws(self, url: str, *args: str, key: NewAccessKey | None = None, check: bool = True) -> Any:
        """``aws sagemaker <args> --endpoint-url url``: the real AWS CLI; returns parsed JSON output (or the
        CompletedProcess when ``check`` is False)."""
        key = key or self.admin_key
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": key.key_id,
            "AWS_SECRET_ACCESS_KEY": key.secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "no-aws-credentials"),
            "AWS_MAX_ATTEMPTS": "1",
        }
        env.pop("AWS_SESSION_TOKEN", None)
        done = subprocess.run(
            ["aws", "sagemaker", *args, "--endpoint-url", url, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if not check:
            return done
        assert done.returncode == 0, f"aws sagemaker {' '.join(args)} failed: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else {}


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_status(sm: Any, name: str, wanted: set[str], timeout: float = 120.0) -> dict[str, Any]:
    """DescribeLabelingJob until its status is one of ``wanted``."""

    def done() -> dict[str, Any] | None:
        d = sm.describe_labeling_job(LabelingJobName=name)
        return d if d["LabelingJobStatus"] in wanted else None

    return wait_until(done, timeout=timeout, interval=0.3, what=f"{name} in {sorted(wanted)}")


def now() -> float:
    return time.time()
