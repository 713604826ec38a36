"""Ground Truth's API over HTTP (issue 22): the real boto3 ``sagemaker`` client and the real AWS CLI against a
running ``gtcore serve-api`` (and ``streamlit run app.py`` in test_api_app.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gtcore.queue import api as queue
from gtcore.workforce import access_keys
from tests.api_world import ApiWorld, wait_status
from tests.fixtures.queue import box_answer


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> ApiWorld:
    return ApiWorld.create(tmp_path, db_url)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def annotate_all(world: ApiWorld, job_id: int) -> int:
    """A scripted annotator: claim and submit every task of the job; returns how many."""
    n = 0
    while (task := queue.claim_next(world.ctx, world.worker, job_id)) is not None:
        queue.submit(world.ctx, world.worker, task.assignment_id, box_answer("cat", 1, 64, 48))
        n += 1
    return n


def test_job_lifecycle_with_boto3(world: ApiWorld) -> None:
    with world.serve_api() as url:
        sm = world.client(url)
        req = world.documented_request("Pets-1")
        arn = sm.create_labeling_job(**req)["LabelingJobArn"]
        assert arn == "arn:aws:sagemaker:local:000000000000:labeling-job/pets-1"
        d = sm.describe_labeling_job(LabelingJobName="pets-1")
        assert d["LabelingJobStatus"] == "InProgress" and d["LabelingJobName"] == "Pets-1"
        assert d["LabelCounters"]["Unlabeled"] == 3 and d["Tags"] == [{"Key": "project", "Value": "pets"}]
        assert d["HumanTaskConfig"]["TaskTitle"] == "Bounding box task"
        assert d["CreationTime"].tzinfo is not None  # epoch seconds on the wire, datetime in boto3

        from gtcore.jobs import api as jobs

        job_id = jobs.job_summary(world.ctx, world.admin, "pets-1").job_id
        assert annotate_all(world, job_id) == 3
        done = wait_status(sm, "pets-1", {"Completed"})  # the serve-api has no worker: run one here
        assert done["LabelCounters"]["HumanLabeled"] == 3 and done["LabelCounters"]["Unlabeled"] == 0
        out = Path(done["LabelingJobOutput"]["OutputDatasetS3Uri"])
        assert out.is_file() and len(out.read_text().splitlines()) == 3

        # the same body again: the name is taken (declared on the operation: a modeled exception)
        with pytest.raises(sm.exceptions.ResourceInUse):
            sm.create_labeling_job(**req)


@pytest.fixture(autouse=True)
def _background_worker(world: ApiWorld) -> Any:
    """A background worker thread on the world's database (jobs finish as with `gtcore worker`)."""
    import threading

    from gtcore.work import runner

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            runner.run_until_idle(world.ctx, max_seconds=2.0)
            stop.wait(0.3)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield
    stop.set()
    t.join(timeout=30)


def test_list_filters_paginator_stop_and_cli(world: ApiWorld) -> None:
    with world.serve_api() as url:
        sm = world.client(url)
        for i in range(7):
            sm.create_labeling_job(**world.documented_request(f"cats-{i}", n_images=1))
        sm.create_labeling_job(**world.documented_request("dogs-1", n_images=1))
        sm.stop_labeling_job(LabelingJobName="cats-3")
        wait_status(sm, "cats-3", {"Stopped"})
        with pytest.raises(ClientError) as exc:  # a stopped job cannot be stopped again
            sm.stop_labeling_job(LabelingJobName="cats-3")
        assert code(exc) == "ValidationException"

        names = [j["LabelingJobName"] for j in sm.list_labeling_jobs(NameContains="cats")["LabelingJobSummaryList"]]
        assert names == [f"cats-{i}" for i in range(7)]
        got = sm.list_labeling_jobs(StatusEquals="Stopped")["LabelingJobSummaryList"]
        assert [j["LabelingJobName"] for j in got] == ["cats-3"]
        desc = sm.list_labeling_jobs(SortBy="Name", SortOrder="Descending")["LabelingJobSummaryList"]
        assert desc[0]["LabelingJobName"] == "dogs-1"
        from datetime import timedelta

        hour = timedelta(hours=1)
        first = desc[-1]["CreationTime"]  # boto3 sends whole seconds: compare with an hour's margin
        assert len(sm.list_labeling_jobs(CreationTimeAfter=first - hour)["LabelingJobSummaryList"]) == 8
        assert sm.list_labeling_jobs(CreationTimeAfter=first + hour)["LabelingJobSummaryList"] == []
        assert sm.list_labeling_jobs(LastModifiedTimeBefore=first - hour)["LabelingJobSummaryList"] == []

        pages = list(sm.get_paginator("list_labeling_jobs").paginate(PaginationConfig={"PageSize": 3}))
        assert [len(p["LabelingJobSummaryList"]) for p in pages] == [3, 3, 2]
        assert len({j["LabelingJobName"] for p in pages for j in p["LabelingJobSummaryList"]}) == 8

        for_team = sm.list_labeling_jobs_for_workteam(WorkteamArn="team-a", MaxResults=5)
        assert len(for_team["LabelingJobSummaryList"]) == 5 and for_team["NextToken"]
        item = for_team["LabelingJobSummaryList"][0]
        # the ARN a script kept from AWS (its own account and region) names the same team, as in CreateLabelingJob
        aws_arn = "arn:aws:sagemaker:us-west-2:111122223333:workteam/private-crowd/team-a"
        assert (
            sm.list_labeling_jobs_for_workteam(WorkteamArn=aws_arn, MaxResults=5)["LabelingJobSummaryList"]
            == (for_team["LabelingJobSummaryList"])
        )
        with pytest.raises(sm.exceptions.ClientError, match="public-crowd"):
            sm.list_labeling_jobs_for_workteam(WorkteamArn=aws_arn.replace("private-crowd", "public-crowd"))
        assert item["WorkRequesterAccountId"] == "000000000000" and item["LabelCounters"]["Total"] == 1

        # the AWS CLI, unchanged but for --endpoint-url
        listed = world.aws(url, "list-labeling-jobs", "--name-contains", "dogs")
        assert [j["LabelingJobName"] for j in listed["LabelingJobSummaryList"]] == ["dogs-1"]
        described = world.aws(url, "describe-labeling-job", "--labeling-job-name", "cats-3")
        assert described["LabelingJobStatus"] == "Stopped"
        all_pages = world.aws(url, "list-labeling-jobs", "--page-size", "2")  # the CLI follows NextToken itself
        assert len(all_pages["LabelingJobSummaryList"]) == 8
        req = world.documented_request("cli-job", n_images=1)
        (world.root / "cli-job.json").write_text(__import__("json").dumps(req))
        made = world.aws(url, "create-labeling-job", "--cli-input-json", f"file://{world.root / 'cli-job.json'}")
        assert made["LabelingJobArn"].endswith(":labeling-job/cli-job")
        world.aws(url, "stop-labeling-job", "--labeling-job-name", "cli-job")


def test_workteams_workforce_and_tags(world: ApiWorld) -> None:
    with world.serve_api() as url:
        sm = world.client(url)
        pool = {"UserPool": "us-east-1_AbCdEfGh1", "ClientId": "abc123"}
        arn = sm.create_workteam(
            WorkteamName="team-b",
            Description="second team",
            MemberDefinitions=[{"CognitoMemberDefinition": {**pool, "UserGroup": "team-a"}}],
            Tags=[{"Key": "cost-centre", "Value": "42"}],
        )["WorkteamArn"]
        assert arn == "arn:aws:sagemaker:local:000000000000:workteam/private-crowd/team-b"
        team = sm.describe_workteam(WorkteamName="team-b")["Workteam"]
        assert team["Description"] == "second team" and team["WorkteamArn"] == arn
        assert team["MemberDefinitions"][0]["CognitoMemberDefinition"]["UserGroup"] == "team-b"
        from gtcore.workforce import workteams

        assert workteams.describe_team(world.ctx, world.admin, "team-b").member_emails == (world.worker.email,)
        names = [t["WorkteamName"] for t in sm.list_workteams(SortBy="Name")["Workteams"]]
        assert names == ["team-a", "team-b"]
        assert [t["WorkteamName"] for t in sm.list_workteams(NameContains="mb")["Workteams"]] == []
        assert [t["WorkteamName"] for t in sm.list_workteams(NameContains="B")["Workteams"]] == ["team-b"]
        updated = sm.update_workteam(
            WorkteamName="team-b",
            Description="renamed purpose",
            MemberDefinitions=[{"CognitoMemberDefinition": {**pool, "UserGroup": "team-b"}}],
        )["Workteam"]
        assert updated["Description"] == "renamed purpose"

        with pytest.raises(ClientError) as exc:
            sm.create_workteam(
                WorkteamName="team-c",
                Description="oidc",
                MemberDefinitions=[
                    {"CognitoMemberDefinition": {**pool, "UserGroup": "team-b"}},
                    {"OidcMemberDefinition": {"Groups": ["g1"]}},
                ],
            )
        assert code(exc) == "ValidationException" and "MemberDefinitions[1].OidcMemberDefinition" in str(exc.value)
        assert "team-c" not in [t["WorkteamName"] for t in sm.list_workteams()["Workteams"]]  # nothing half-made
        with pytest.raises(ClientError) as exc:
            sm.create_workteam(
                WorkteamName="team-c",
                Description="x",
                MemberDefinitions=[{"CognitoMemberDefinition": {**pool, "UserGroup": "nobody"}}],
                NotificationConfiguration={"NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:t"},
            )
        assert "NotificationConfiguration" in str(exc.value)

        wf = sm.describe_workforce(WorkforceName="default")["Workforce"]
        assert wf["WorkforceArn"].endswith(":workforce/default") and wf["CognitoConfig"]["UserPool"] == "local_gtcore"
        assert [w["WorkforceName"] for w in sm.list_workforces()["Workforces"]] == ["default"]

        # tags on jobs and teams
        job_arn = sm.create_labeling_job(**world.documented_request("tagged", n_images=1))["LabelingJobArn"]
        sm.add_tags(ResourceArn=job_arn, Tags=[{"Key": "stage", "Value": "dev"}, {"Key": "project", "Value": "x"}])
        tags = sm.list_tags(ResourceArn=job_arn)["Tags"]
        assert tags == [{"Key": "project", "Value": "x"}, {"Key": "stage", "Value": "dev"}]
        sm.delete_tags(ResourceArn=job_arn, TagKeys=["stage"])
        assert sm.describe_labeling_job(LabelingJobName="tagged")["Tags"] == [{"Key": "project", "Value": "x"}]
        assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "cost-centre", "Value": "42"}]
        assert world.aws(url, "list-tags", "--resource-arn", arn)["Tags"] == [{"Key": "cost-centre", "Value": "42"}]

        from gtcore.workforce import teams

        for i in range(len(sm.list_workteams(MaxResults=100)["Workteams"]), teams.MAX_TEAMS):
            teams.create_team(world.ctx, world.admin, f"filler-{i}")
        with pytest.raises(sm.exceptions.ResourceLimitExceeded):
            sm.create_workteam(
                WorkteamName="one-too-many",
                Description="x",
                MemberDefinitions=[{"CognitoMemberDefinition": {**pool, "UserGroup": "one-too-many"}}],
            )
        pages = list(sm.get_paginator("list_workteams").paginate(PaginationConfig={"PageSize": 10}))
        assert [len(p["Workteams"]) for p in pages] == [10, 10, 5]

        assert sm.delete_workteam(WorkteamName="team-b")["Success"] is True
        with pytest.raises(ClientError) as exc:
            sm.describe_workteam(WorkteamName="team-b")
        assert code(exc) == "ResourceNotFound"
        with pytest.raises(ClientError) as exc:  # team-a has a job in progress
            sm.delete_workteam(WorkteamName="team-a")
        assert code(exc) == "ResourceInUse"


def test_error_codes(world: ApiWorld) -> None:
    import requests

    with world.serve_api() as url:
        sm = world.client(url)
        with pytest.raises(sm.exceptions.ResourceNotFound):
            sm.describe_labeling_job(LabelingJobName="nope")
        bad = world.documented_request("bad-job")
        bad["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] = 12
        bad["HumanTaskConfig"]["TaskTitle"] = "x" * 200  # boto3 checks only minimums
        with pytest.raises(ClientError) as exc:
            sm.create_labeling_job(**bad)
        msg = str(exc.value)
        assert code(exc) == "ValidationException"
        assert "HumanTaskConfig.NumberOfHumanWorkersPerDataObject" in msg and "HumanTaskConfig.TaskTitle" in msg
        with pytest.raises(ClientError) as exc:
            sm.describe_labeling_job(LabelingJobName="bad_name!")
        assert code(exc) == "ValidationException" and "LabelingJobName" in str(exc.value)
        with pytest.raises(ClientError) as exc:
            sm.create_training_job(
                TrainingJobName="t",
                AlgorithmSpecification={"TrainingInputMode": "File", "TrainingImage": "x"},
                RoleArn="arn:aws:iam::123456789012:role/r",
                OutputDataConfig={"S3OutputPath": "s3://b/o"},
                ResourceConfig={"VolumeSizeInGB": 1, "InstanceCount": 1, "InstanceType": "ml.m5.large"},
                StoppingCondition={"MaxRuntimeInSeconds": 60},
            )
        assert code(exc) == "NotImplementedException" and "CreateTrainingJob" in str(exc.value)
        with pytest.raises(ClientError) as exc:
            sm.list_tags(ResourceArn="arn:aws:sagemaker:local:000000000000:labeling-job/nope")
        assert code(exc) == "ResourceNotFound"
        with pytest.raises(ClientError) as exc:
            sm.list_labeling_jobs(MaxResults=101)
        assert code(exc) == "ValidationException" and "MaxResults" in str(exc.value)
        with pytest.raises(ClientError) as exc:  # a team name that does not exist
            sm.create_labeling_job(**world.documented_request("no-team", n_images=1, team="ghosts"))
        assert code(exc) == "ValidationException" and "WorkteamArn" in str(exc.value)

        # raw HTTP: no signature, a body that is not JSON (signed), an unknown target
        r = requests.post(url, data=b"{}", headers={"X-Amz-Target": "SageMaker.ListLabelingJobs"}, timeout=30)
        assert r.status_code == 400 and r.json()["__type"] == "MissingAuthenticationTokenException"
        r = requests.post(url, data=b"{}", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, timeout=30)
        assert r.status_code == 400 and r.json()["__type"] == "IncompleteSignatureException"
        assert signed_post(world, url, b"{not json", "SageMaker.ListLabelingJobs")["__type"] == "SerializationException"
        assert signed_post(world, url, b"{}", "SageMaker.Nope")["__type"] == "UnknownOperationException"
        body = b'{"LabelingJobName": 5}'
        out = signed_post(world, url, body, "SageMaker.DescribeLabelingJob")
        assert out["__type"] == "ValidationException" and "LabelingJobName" in out["message"]


def signed_post(world: ApiWorld, url: str, body: bytes, target: str) -> dict[str, Any]:
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    req = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(world.admin_key.key_id, world.admin_key.secret), "sagemaker", "local").add_auth(req)
    r = requests.post(url + "/", data=body, headers=dict(req.headers.items()), timeout=30)
    assert r.status_code == 400, r.text
    return dict(r.json())


def test_authentication_and_roles(world: ApiWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    with world.serve_api() as url:
        sm = world.client(url)
        import boto3

        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", url + "/api/sagemaker")  # an unchanged script's client
        unchanged = boto3.client(
            "sagemaker",
            region_name="local",
            aws_access_key_id=world.admin_key.key_id,
            aws_secret_access_key=world.admin_key.secret,
        )
        assert [w["WorkforceName"] for w in unchanged.list_workforces()["Workforces"]] == ["default"]
        sm.create_labeling_job(**world.documented_request("auth-job", n_images=1))

        wrong = world.client(url, world.admin_key, secret="x" * 40)
        with pytest.raises(ClientError) as exc:
            wrong.list_labeling_jobs()
        assert code(exc) == "InvalidSignatureException"

        ghost = world.client(url, world.admin_key, key_id="AKGTNOSUCHKEY0000000")
        with pytest.raises(ClientError) as exc:
            ghost.list_labeling_jobs()
        assert code(exc) == "UnrecognizedClientException"

        other_region = world.client(url, region_name="us-east-1")
        with pytest.raises(ClientError) as exc:
            other_region.list_labeling_jobs()
        assert code(exc) == "InvalidSignatureException" and "region" in str(exc.value)

        auditor = world.client(url, world.auditor_key)
        assert auditor.describe_labeling_job(LabelingJobName="auth-job")["LabelingJobStatus"] == "InProgress"
        assert auditor.list_workteams()["Workteams"]
        with pytest.raises(ClientError) as exc:
            auditor.stop_labeling_job(LabelingJobName="auth-job")
        assert code(exc) == "AccessDeniedException"
        with pytest.raises(ClientError) as exc:
            auditor.create_labeling_job(**world.documented_request("by-auditor", n_images=1))
        assert code(exc) == "AccessDeniedException"

        worker = world.client(url, world.worker_key)
        with pytest.raises(ClientError) as exc:
            worker.list_labeling_jobs()
        assert code(exc) == "AccessDeniedException"
        out = world.aws(url, "list-labeling-jobs", key=world.worker_key, check=False)
        assert out.returncode != 0 and "AccessDeniedException" in out.stderr

        # a revoked key stops working at once
        spare = access_keys.create_access_key(world.ctx, world.admin, world.admin.user_id or 0)
        spare_client = world.client(url, spare)
        assert spare_client.list_workforces()["Workforces"]
        access_keys.delete_access_key(world.ctx, world.admin, spare.key_id)
        with pytest.raises(ClientError) as exc:
            spare_client.list_workforces()
        assert code(exc) == "UnrecognizedClientException"

        # a disabled user's key
        world.people.disable(world.auditor)
        with pytest.raises(ClientError) as exc:
            auditor.list_workforces()
        assert code(exc) == "AccessDeniedException"


def signed_at(url: str, key_id: str, secret: str, when: datetime, target: str = "SageMaker.ListWorkforces") -> Any:
    """A request signed by botocore's signer as a client whose clock reads ``when``."""
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1", "X-Amz-Date": stamp}
    req = AWSRequest(method="POST", url=url + "/", data=b"{}", headers=headers)
    req.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(key_id, secret), "sagemaker", "local")
    signature = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    signed = signer.signed_headers(signer.headers_to_sign(req))
    req.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{stamp[:8]}/local/sagemaker/aws4_request, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    r = requests.post(url + "/", data=b"{}", headers=dict(req.headers.items()), timeout=30)
    return {"status": r.status_code, **r.json()}


def test_skewed_clock_and_throttling(world: ApiWorld) -> None:
    with world.serve_api() as url:
        key = world.admin_key

        def call(skew: float, secret: str) -> dict[str, Any]:
            return dict(signed_at(url, key.key_id, secret, datetime.now(UTC) + timedelta(seconds=skew)))

        assert call(-14 * 60, key.secret)["status"] == 200
        late = call(-16 * 60, key.secret)
        assert late["__type"] == "InvalidSignatureException" and "expired" in late["message"]
        early = call(16 * 60, key.secret)
        assert early["__type"] == "InvalidSignatureException" and "not yet current" in early["message"]

        # wrong secrets count like failed sign-ins: after 5 the key is locked, even for the right secret
        for _ in range(5):
            assert call(0, "y" * 40)["__type"] == "InvalidSignatureException"
        assert call(0, key.secret)["__type"] == "ThrottlingException"
        # another key from the same client is not locked by it (the client limit is higher)
        other = world.auditor_key
        assert signed_at(url, other.key_id, other.secret, datetime.now(UTC))["status"] == 200
