"""The SageMaker API served by the app's own server: ``streamlit run app.py`` answers boto3 and the AWS CLI at
``<app>/api/sagemaker`` (also under ``server.baseUrlPath``), with the app's embedded background worker finishing
the job a scripted annotator labels. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from gtcore.jobs import api as jobs
from tests.api_world import ApiWorld, wait_status
from tests.test_api import annotate_all


@pytest.mark.slow
@pytest.mark.parametrize("base_path", ["", "labeling"])
def test_app_serves_the_api(tmp_path: Path, db_url: str, base_path: str) -> None:
    if base_path and not db_url.startswith("sqlite"):
        pytest.skip("the base path is a routing matter: SQLite is enough")
    world = ApiWorld.create(tmp_path, db_url)
    extra = {"STREAMLIT_SERVER_BASE_URL_PATH": base_path} if base_path else {}
    with world.streamlit(extra) as url:
        assert url.endswith("/labeling/api/sagemaker" if base_path else "/api/sagemaker")
        sm = world.client(url)
        arn = sm.create_labeling_job(**world.documented_request("app-job"))["LabelingJobArn"]
        assert arn.endswith(":labeling-job/app-job")
        job_id = jobs.job_summary(world.ctx, world.admin, "app-job").job_id
        assert annotate_all(world, job_id) == 3
        done = wait_status(sm, "app-job", {"Completed"}, timeout=180)  # the app's embedded worker finishes it
        assert done["LabelCounters"]["HumanLabeled"] == 3
        pages = list(sm.get_paginator("list_labeling_jobs").paginate(PaginationConfig={"PageSize": 1}))
        assert [p["LabelingJobSummaryList"][0]["LabelingJobName"] for p in pages] == ["app-job"]
        assert world.aws(url, "describe-labeling-job", "--labeling-job-name", "app-job")["LabelingJobStatus"] == (
            "Completed"
        )
        teams = world.aws(url, "list-workteams")["Workteams"]
        assert [t["WorkteamName"] for t in teams] == ["team-a"]
        with pytest.raises(ClientError) as exc:
            world.client(url, world.worker_key).list_labeling_jobs()
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
        with pytest.raises(ClientError) as exc:
            world.client(url, secret="z" * 40).list_labeling_jobs()
        assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"
