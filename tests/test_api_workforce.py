"""The OIDC workforce through Ground Truth's API: CreateWorkforce / UpdateWorkforce / DeleteWorkforce with
``OidcConfig`` and work teams made of OIDC groups (``OidcMemberDefinition``), with the real boto3 client and the
real AWS CLI against a running ``gtcore serve-api``, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from gtcore.core import db as dbm
from gtcore.workforce import oidc_config, oidc_identity, oidc_signin, oidc_teams, workteams
from tests.api_world import ApiWorld
from tests.fixtures.oidc import CLIENT_SECRET, OidcProvider

SECRET = "client-secret-of-the-provider-0001"  # noqa: S105


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> ApiWorld:
    return ApiWorld.create(tmp_path, db_url)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def oidc(base: str = "https://idp.example.test", **over: Any) -> dict[str, Any]:
    cfg = {
        "ClientId": "gt-client",
        "ClientSecret": SECRET,
        "Issuer": base,
        "AuthorizationEndpoint": f"{base}/authorize",
        "TokenEndpoint": f"{base}/token",
        "UserInfoEndpoint": f"{base}/userinfo",
        "LogoutEndpoint": f"{base}/logout",
        "JwksUri": f"{base}/jwks",
    }
    cfg.update(over)
    return {k: v for k, v in cfg.items() if v is not None}


def test_workforce_oidc_config_lifecycle(world: ApiWorld) -> None:
    with world.serve_api() as url:
        sm, auditor = world.client(url), world.client(url, world.auditor_key)
        before = sm.describe_workforce(WorkforceName="default")["Workforce"]
        assert (
            before["CognitoConfig"] == {"UserPool": "local_gtcore", "ClientId": "gtcore"} and "OidcConfig" not in before
        )

        # refused by field name, nothing stored
        bad = [
            ({"WorkforceName": "mine", "OidcConfig": oidc()}, "WorkforceName"),
            (
                {"WorkforceName": "default", "CognitoConfig": {"UserPool": "eu-west-1_abc", "ClientId": "x"}},
                "CognitoConfig",
            ),
            ({"WorkforceName": "default"}, "OidcConfig"),
            ({"WorkforceName": "default", "OidcConfig": oidc(Issuer="http://idp.example.test")}, "OidcConfig.Issuer"),
            ({"WorkforceName": "default", "OidcConfig": oidc(Scope="email profile")}, "OidcConfig.Scope"),
            (
                {"WorkforceName": "default", "OidcConfig": oidc(AuthenticationRequestExtraParams={"state": "x"})},
                "OidcConfig.AuthenticationRequestExtraParams.state",
            ),
            (
                {"WorkforceName": "default", "OidcConfig": oidc(), "SourceIpConfig": {"Cidrs": ["10.0.0.0/8"]}},
                "SourceIpConfig.Cidrs",
            ),
            ({"WorkforceName": "default", "OidcConfig": oidc(), "Tags": [{"Key": "a", "Value": "b"}]}, "Tags"),
            ({"WorkforceName": "default", "OidcConfig": oidc(), "IpAddressType": "dualstack"}, "IpAddressType"),
        ]
        for params, field in bad:
            with pytest.raises(ClientError) as exc:
                sm.create_workforce(**params)
            assert code(exc) == "ValidationException" and field in str(exc.value), (field, str(exc.value))
        assert not oidc_config.configured(world.ctx)

        # roles: auditors read, workers nothing, only admins change
        with pytest.raises(ClientError) as exc:
            auditor.create_workforce(WorkforceName="default", OidcConfig=oidc())
        assert code(exc) == "AccessDeniedException"
        with pytest.raises(ClientError) as exc:
            world.client(url, world.worker_key).describe_workforce(WorkforceName="default")
        assert code(exc) == "AccessDeniedException"
        assert not oidc_config.configured(world.ctx)

        arn = sm.create_workforce(
            WorkforceName="default",
            OidcConfig=oidc(AuthenticationRequestExtraParams={"prompt": "login"}),
            SourceIpConfig={"Cidrs": []},
        )["WorkforceArn"]
        assert arn == "arn:aws:sagemaker:local:000000000000:workforce/default"
        with world.ctx.db.read() as conn:
            sealed = conn.execute(select(dbm.oidc_config.c.client_secret_sealed)).scalar_one()
        assert SECRET not in sealed  # sealed with GT_SECRET_KEY, not plain text
        assert (
            oidc_config.load_config(world.ctx) or oidc_config.OidcConfig("", "", "", "", "", "", "", "")
        ).client_secret == SECRET

        wf = auditor.describe_workforce(WorkforceName="default")["Workforce"]  # an auditor reads it too
        assert "CognitoConfig" not in wf and wf["SourceIpConfig"] == {"Cidrs": []}
        assert wf["OidcConfig"] == {
            **{k: v for k, v in oidc().items() if k != "ClientSecret"},
            "Scope": oidc_config.DEFAULT_SCOPE,
            "AuthenticationRequestExtraParams": {"prompt": "login"},
        }
        assert wf["OidcConfig"] == oidc_config.describe_config(world.ctx, world.admin)  # the CLI's view
        assert SECRET not in str(sm.list_workforces()) and sm.list_workforces()["Workforces"][0]["OidcConfig"]

        with pytest.raises(ClientError) as exc:
            sm.create_workforce(WorkforceName="default", OidcConfig=oidc())
        assert code(exc) == "ResourceInUse"

        # UpdateWorkforce: the same rules (http only to a loopback address), the new secret sealed
        with pytest.raises(ClientError) as exc:
            sm.update_workforce(WorkforceName="default", OidcConfig=oidc("http://10.1.2.3:8080"))
        assert code(exc) == "ValidationException" and "Issuer" in str(exc.value) and "https" in str(exc.value)
        with pytest.raises(ClientError) as exc:
            sm.update_workforce(WorkforceName="other", OidcConfig=oidc())
        assert code(exc) == "ResourceNotFound"
        with pytest.raises(ClientError) as exc:
            auditor.update_workforce(WorkforceName="default", OidcConfig=oidc())
        assert code(exc) == "AccessDeniedException"
        time.sleep(0.01)
        updated = sm.update_workforce(
            WorkforceName="default",
            OidcConfig=oidc("http://127.0.0.1:9400", ClientId="second", ClientSecret="s2" * 10, Scope="openid email"),
        )["Workforce"]
        assert updated["OidcConfig"]["ClientId"] == "second" and updated["OidcConfig"]["Scope"] == "openid email"
        assert updated["OidcConfig"]["Issuer"] == "http://127.0.0.1:9400"
        assert updated["OidcConfig"].get("AuthenticationRequestExtraParams", {}) == {}
        assert updated["LastUpdatedDate"] >= wf["LastUpdatedDate"]
        assert (
            oidc_config.load_config(world.ctx) or oidc_config.OidcConfig("", "", "", "", "", "", "", "")
        ).client_secret == "s2" * 10

        # the AWS CLI sees the same
        described = world.aws(url, "describe-workforce", "--workforce-name", "default")["Workforce"]
        assert described["OidcConfig"]["ClientId"] == "second" and "ClientSecret" not in described["OidcConfig"]

        # DeleteWorkforce: back to local accounts only
        with pytest.raises(ClientError) as exc:
            auditor.delete_workforce(WorkforceName="default")
        assert code(exc) == "AccessDeniedException"
        assert sm.delete_workforce(WorkforceName="default")["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert not oidc_config.configured(world.ctx)
        after = sm.describe_workforce(WorkforceName="default")["Workforce"]
        assert "OidcConfig" not in after and after["CognitoConfig"]["UserPool"] == "local_gtcore"
        with pytest.raises(ClientError) as exc:
            sm.delete_workforce(WorkforceName="default")
        assert code(exc) == "ResourceNotFound"


def _signed_in(world: ApiWorld, subject: str, groups: tuple[str, ...]) -> int:
    """A person the provider signed in (after verification) with these groups: his user id."""
    cfg = oidc_config.load_config(world.ctx)
    assert cfg is not None
    ident = oidc_identity.Identity(
        cfg.issuer, subject, subject, cfg.client_id, subject, f"{subject}@example.test", groups
    )
    return oidc_identity.open_session(world.ctx, ident, time.time()).user_id


def _members(world: ApiWorld, team: str) -> list[str]:
    return list(workteams.describe_team(world.ctx, world.admin, team).member_emails)


def test_workteams_of_oidc_groups(world: ApiWorld) -> None:
    def defs(*groups: str) -> list[dict[str, Any]]:
        return [{"OidcMemberDefinition": {"Groups": list(groups)}}]

    pool = {"UserPool": "local_gtcore", "ClientId": "gtcore"}
    with world.serve_api() as url:
        sm, auditor = world.client(url), world.client(url, world.auditor_key)
        sm.create_workforce(WorkforceName="default", OidcConfig=oidc())
        eng = _signed_in(world, "eng-person", ("eng", "all"))
        _signed_in(world, "ops-person", ("ops",))

        bad = [
            (defs(*[f"g{i}" for i in range(11)]), "MemberDefinitions[0].OidcMemberDefinition.Groups"),
            (defs("x" * 64), "MemberDefinitions[0].OidcMemberDefinition.Groups[0]"),
            (defs("two words"), "MemberDefinitions[0].OidcMemberDefinition.Groups"),
            (defs("a,b"), "MemberDefinitions[0].OidcMemberDefinition.Groups"),
            ([{"OidcMemberDefinition": {}}], "MemberDefinitions[0].OidcMemberDefinition.Groups"),
            (defs(*[f"g{i}" for i in range(6)]) + defs(*[f"h{i}" for i in range(6)]), "at most 10 OIDC groups"),
            (
                defs("eng") + [{"CognitoMemberDefinition": {**pool, "UserGroup": "team-a"}}],
                "MemberDefinitions[1].CognitoMemberDefinition",
            ),
            (
                [
                    {
                        "CognitoMemberDefinition": {**pool, "UserGroup": "team-a"},
                        "OidcMemberDefinition": {"Groups": ["eng"]},
                    }
                ],
                "MemberDefinitions[0]: give exactly one",
            ),
        ]
        for members, field in bad:
            with pytest.raises(ClientError) as exc:
                sm.create_workteam(WorkteamName="engineers", Description="d", MemberDefinitions=members)
            assert code(exc) == "ValidationException" and field in str(exc.value), (field, str(exc.value))
        assert "engineers" not in [t["WorkteamName"] for t in sm.list_workteams()["Workteams"]]  # nothing half-made
        with pytest.raises(ClientError) as exc:
            auditor.create_workteam(WorkteamName="engineers", Description="d", MemberDefinitions=defs("eng"))
        assert code(exc) == "AccessDeniedException"

        arn = sm.create_workteam(
            WorkteamName="engineers", Description="the engineers", MemberDefinitions=defs("eng", "all")
        )
        assert arn["WorkteamArn"].endswith(":workteam/private-crowd/engineers")
        team = auditor.describe_workteam(WorkteamName="engineers")["Workteam"]
        assert team["MemberDefinitions"] == [{"OidcMemberDefinition": {"Groups": ["all", "eng"]}}]
        assert oidc_teams.team_groups(world.ctx, world.admin, "engineers") == ["all", "eng"]  # the oidc module's table
        assert _members(world, "engineers") == ["eng-person@example.test"]  # the provider's people by their groups

        # UpdateWorkteam: other groups; the person whose groups no longer match leaves the team
        sm.update_workteam(WorkteamName="engineers", MemberDefinitions=defs("ops"))
        assert _members(world, "engineers") == ["ops-person@example.test"]
        listed = {t["WorkteamName"]: t for t in sm.list_workteams()["Workteams"]}
        assert listed["engineers"]["MemberDefinitions"] == [{"OidcMemberDefinition": {"Groups": ["ops"]}}]
        assert listed["team-a"]["MemberDefinitions"][0]["CognitoMemberDefinition"]["UserGroup"] == "team-a"

        # a team of local accounts switched to OIDC groups: its members are then the groups' people only
        assert world.worker.email in _members(world, "team-a")
        world.aws(url, "update-workteam", "--workteam-name", "team-a", "--member-definitions",
                  '[{"OidcMemberDefinition": {"Groups": ["eng"]}}]')  # fmt: skip
        assert _members(world, "team-a") == ["eng-person@example.test"]
        # ... and back to a Cognito user group: the OIDC groups end, the members are the named team's
        sm.update_workteam(
            WorkteamName="team-a", MemberDefinitions=[{"CognitoMemberDefinition": {**pool, "UserGroup": "team-a"}}]
        )
        back = sm.describe_workteam(WorkteamName="team-a")["Workteam"]
        assert back["MemberDefinitions"][0]["CognitoMemberDefinition"]["UserGroup"] == "team-a"
        assert oidc_teams.team_groups(world.ctx, world.admin, "team-a") == [] and _members(world, "team-a") == []
        assert eng  # signed in, then left team-a with its groups

        with pytest.raises(ClientError) as exc:
            sm.update_workteam(WorkteamName="engineers", MemberDefinitions=[
                {"OidcMemberDefinition": {"Groups": ["eng"]}},
                {"CognitoMemberDefinition": {**pool, "UserGroup": "team-a"}},
            ])  # fmt: skip
        assert code(exc) == "ValidationException" and "MemberDefinitions[1].CognitoMemberDefinition" in str(exc.value)
        assert oidc_teams.team_groups(world.ctx, world.admin, "engineers") == ["ops"]  # unchanged

        # a team of OIDC groups is deleted with its groups (PostgreSQL's foreign keys)
        assert sm.delete_workteam(WorkteamName="engineers")["Success"] is True
        assert "engineers" not in oidc_teams.all_team_groups(world.ctx, world.admin)


def test_provider_set_by_the_api_signs_people_into_oidc_teams(world: ApiWorld, oidc_provider: OidcProvider) -> None:
    """The real provider process: CreateWorkforce points at it, CreateWorkteam maps its groups, and a person's
    sign-in (authorization code with PKCE, ID token verified against its JWKS) with the secret the API sealed
    lands him in the team; UpdateWorkteam with other groups takes him out at once."""
    cfg = oidc_provider.config()
    with world.serve_api() as url:
        sm = world.client(url)
        sm.create_workforce(
            WorkforceName="default",
            OidcConfig={
                "ClientId": cfg.client_id,
                "ClientSecret": CLIENT_SECRET,
                "Issuer": cfg.issuer,
                "AuthorizationEndpoint": cfg.authorization_endpoint,
                "TokenEndpoint": cfg.token_endpoint,
                "UserInfoEndpoint": cfg.user_info_endpoint,
                "LogoutEndpoint": cfg.logout_endpoint,
                "JwksUri": cfg.jwks_uri,
            },
        )
        sm.create_workteam(
            WorkteamName="labelers",
            Description="the provider's labelers",
            MemberDefinitions=[{"OidcMemberDefinition": {"Groups": ["labelers"]}}],
        )
        oidc_provider.sagemaker_user("carol", ["labelers"], email="carol@corp.example")
        begun = oidc_signin.begin(world.ctx, "http://127.0.0.1:8501/_gt/oidc/callback")
        back = oidc_provider.authorize(begun.url, "carol")
        session = oidc_signin.complete(world.ctx, state=back["state"], code=back.get("code"), binding=begun.binding)
        assert session.email == "carol@corp.example"
        assert _members(world, "labelers") == ["carol@corp.example"]

        sm.update_workteam(WorkteamName="labelers", MemberDefinitions=[{"OidcMemberDefinition": {"Groups": ["x"]}}])
        assert _members(world, "labelers") == []
