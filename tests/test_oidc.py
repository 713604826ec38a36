"""The OIDC workforce (issue 24) against a real identity provider process over HTTP (oidc-provider-mock):
configuration (sealed secret, API shape, validation), the code flow with PKCE / state / nonce, ID token checks
(expired, tampered, wrong audience, replayed state, foreign browser), claims to teams, removed groups, the
local-sign-in switch and the OIDC worker metadata in worker-response files. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ConfigError, InvalidCredentials, PermissionDenied, ValidationError
from gtcore.core.settings import Settings
from gtcore.workforce import oidc_config, oidc_identity, oidc_signin, oidc_teams, signin
from gtcore.workforce import users as workforce
from tests.fixtures.core import make_settings
from tests.fixtures.oidc import CLIENT_ID, CLIENT_SECRET, SECRET_KEY, OidcProvider
from tests.fixtures.people import PASSWORD, People

REDIRECT = "http://127.0.0.1:8501/_gt/oidc/callback"


@pytest.fixture
def octx(tmp_path: Path, db_url: str) -> Iterator[Context]:
    c = Context.from_settings(make_settings(tmp_path, database_url=db_url, GT_SECRET_KEY=SECRET_KEY))
    yield c
    c.db.dispose()


@pytest.fixture
def world(octx: Context, oidc_provider: OidcProvider) -> tuple[Context, People, OidcProvider]:
    people = People(octx)
    oidc_config.save_config(octx, people.root(), oidc_provider.config())
    return octx, people, oidc_provider


def _sign_in(ctx: Context, provider: OidcProvider, sub: str, **tamper: Any) -> signin.SignIn:
    begun = oidc_signin.begin(ctx, REDIRECT)
    back = provider.authorize(begun.url, sub)
    return oidc_signin.complete(ctx, state=back["state"], code=back.get("code"), binding=begun.binding, **tamper)


def test_config_round_trip_sealed_and_admin_only(world: tuple[Context, People, OidcProvider]) -> None:
    ctx, people, provider = world
    lead = people.root()
    api = oidc_config.describe_config(ctx, lead)
    assert api is not None and "ClientSecret" not in api
    assert api["Issuer"] == provider.url and api["ClientId"] == CLIENT_ID and api["Scope"] == "openid email profile"
    with ctx.db.read() as conn:
        stored = conn.execute(select(dbm.oidc_config)).one()
    assert CLIENT_SECRET not in stored.client_secret_sealed  # sealed, not plain text
    assert oidc_config.load_config(ctx).client_secret == CLIENT_SECRET  # type: ignore[union-attr]
    # an empty secret keeps the stored one; another server key cannot open it
    oidc_config.save_config(ctx, lead, dataclasses.replace(provider.config(), client_secret="", scope="openid"))
    assert oidc_config.load_config(ctx).client_secret == CLIENT_SECRET  # type: ignore[union-attr]
    other = Context(settings=dataclasses.replace(ctx.settings, secret_keys=("x" * 40,)), db=ctx.db)
    with pytest.raises(ConfigError, match="GT_SECRET_KEY"):
        oidc_config.load_config(other)
    # rotation: a new first key, the old one kept after it, still opens it
    rotated = Context(settings=dataclasses.replace(ctx.settings, secret_keys=("n" * 40, SECRET_KEY)), db=ctx.db)
    assert oidc_config.load_config(rotated).client_secret == CLIENT_SECRET  # type: ignore[union-attr]
    worker = people.worker("team-a")
    with pytest.raises(PermissionDenied):
        oidc_config.save_config(ctx, worker, provider.config())
    with pytest.raises(PermissionDenied):
        oidc_config.describe_config(ctx, worker)


def test_from_api_names_every_bad_field() -> None:
    with pytest.raises(ValidationError) as info:
        oidc_config.from_api(
            {
                "ClientId": "has space",
                "Issuer": "http://idp.example.com",
                "AuthorizationEndpoint": "ftp://x",
                "TokenEndpoint": "https://idp.example.com/token",
                "UserInfoEndpoint": "https://idp.example.com/userinfo",
                "LogoutEndpoint": "https://idp.example.com/logout",
                "JwksUri": "https://idp.example.com/jwks",
                "Scope": "email",
                "AuthenticationRequestExtraParams": {"state": "x"},
                "Bogus": 1,
            }
        )
    fields = {p.field for p in info.value.problems}
    assert {"ClientId", "ClientSecret", "Issuer", "AuthorizationEndpoint", "Scope", "Bogus"} <= fields
    assert "AuthenticationRequestExtraParams.state" in fields
    good = oidc_config.from_api(
        {
            "ClientId": "abc",
            "ClientSecret": "s",
            **{f: f"https://idp.example.com/{f.lower()}" for f in oidc_config.URL_FIELDS},
            "AuthenticationRequestExtraParams": {"prompt": "login"},
        }
    )
    assert good.scope == oidc_config.DEFAULT_SCOPE and dict(good.extra_params) == {"prompt": "login"}
    assert oidc_config.to_api(good)["AuthenticationRequestExtraParams"] == {"prompt": "login"}


def test_no_server_key_no_provider(tmp_path: Path, oidc_provider: OidcProvider) -> None:
    ctx = Context.from_settings(make_settings(tmp_path))
    lead = People(ctx).root()
    with pytest.raises(ConfigError, match="GT_SECRET_KEY"):
        oidc_config.save_config(ctx, lead, oidc_provider.config())
    with pytest.raises(Exception, match="fewer than 32"):
        Settings.from_env({"GT_SECRET_KEY": "short"})


def test_first_sign_in_groups_map_to_teams_and_removed_group_loses_jobs(
    world: tuple[Context, People, OidcProvider],
) -> None:
    ctx, people, provider = world
    lead = people.root()
    people.team("team-a"), people.team("team-b")
    oidc_teams.set_team_groups(ctx, lead, "team-a", ["labelers"])
    oidc_teams.set_team_groups(ctx, lead, "team-b", ["reviewers", "leads"])
    provider.sagemaker_user("alice", ["labelers", "reviewers"], email="alice@corp.example")

    session = _sign_in(ctx, provider, "alice")
    actor = workforce.actor_for_token(ctx, session.token)
    assert actor.email == "alice@corp.example" and actor.roles == frozenset({"worker"})
    with ctx.db.read() as conn:
        team_ids = {oidc_teams.resolve_team_id(conn, n) for n in ("team-a", "team-b")}
    assert actor.team_ids == team_ids
    with ctx.db.read() as conn:
        ident = conn.execute(select(dbm.oidc_identities)).one()
    assert (ident.issuer, ident.subject, ident.worker_sub) == (provider.url, "alice", "sm-alice")
    assert json.loads(ident.groups_json) == ["labelers", "reviewers"]

    # the provider drops "reviewers": at the next sign-in alice leaves team-b (the same user, not a new one)
    provider.sagemaker_user("alice", ["labelers"], email="alice@corp.example")
    again = _sign_in(ctx, provider, "alice")
    assert again.user_id == session.user_id
    actor = workforce.actor_for_token(ctx, again.token)
    with ctx.db.read() as conn:
        a_id = oidc_teams.resolve_team_id(conn, "team-a")
    assert actor.team_ids == frozenset({a_id})
    # no groups at all: no team, still a worker who can sign in
    provider.sagemaker_user("alice", [], email="alice@corp.example")
    assert workforce.actor_for_token(ctx, _sign_in(ctx, provider, "alice").token).team_ids == frozenset()


def test_replayed_state_foreign_browser_and_provider_error_are_refused(
    world: tuple[Context, People, OidcProvider],
) -> None:
    ctx, _people, provider = world
    provider.sagemaker_user("bob", ["labelers"])
    begun = oidc_signin.begin(ctx, REDIRECT)
    assert "code_challenge=" in begun.url and "code_challenge_method=S256" in begun.url and "nonce=" in begun.url
    back = provider.authorize(begun.url, "bob")
    with pytest.raises(InvalidCredentials, match="another browser"):
        oidc_signin.complete(ctx, state=back["state"], code=back["code"], binding="someone-else")
    # the state was spent by that attempt: the right browser cannot replay it either
    with pytest.raises(InvalidCredentials, match="already used"):
        oidc_signin.complete(ctx, state=back["state"], code=back["code"], binding=begun.binding)
    ok = oidc_signin.begin(ctx, REDIRECT)
    back = provider.authorize(ok.url, "bob")
    oidc_signin.complete(ctx, state=back["state"], code=back["code"], binding=ok.binding)
    with pytest.raises(InvalidCredentials, match="already used"):
        oidc_signin.complete(ctx, state=back["state"], code=back["code"], binding=ok.binding)
    with pytest.raises(InvalidCredentials, match="unknown or expired"):
        oidc_signin.complete(ctx, state="made-up", code="x", binding=ok.binding)
    denied = oidc_signin.begin(ctx, REDIRECT)
    state = dict(p.split("=", 1) for p in denied.url.split("?", 1)[1].split("&"))["state"]
    with pytest.raises(InvalidCredentials, match="refused the sign-in"):
        oidc_signin.complete(ctx, state=state, code=None, binding=denied.binding, error="access_denied")


def test_expired_id_token_is_refused(world: tuple[Context, People, OidcProvider]) -> None:
    ctx, _people, provider = world
    provider.sagemaker_user("carol", ["labelers"])
    later = dbm.now() + 3600 + oidc_signin.LEEWAY_SECONDS + 30  # the provider's tokens live one hour
    begun = oidc_signin.begin(ctx, REDIRECT, now=later)
    back = provider.authorize(begun.url, "carol")
    with pytest.raises(InvalidCredentials, match="expired"):
        oidc_signin.complete(ctx, state=back["state"], code=back["code"], binding=begun.binding, now=later + 1)
    # within the bounded skew it is still good
    skewed = dbm.now() + 3600 + oidc_signin.LEEWAY_SECONDS - 30
    begun = oidc_signin.begin(ctx, REDIRECT, now=skewed)
    back = provider.authorize(begun.url, "carol")
    oidc_signin.complete(ctx, state=back["state"], code=back["code"], binding=begun.binding, now=skewed + 1)


def _real_tokens(provider: OidcProvider, client_id: str, sub: str, nonce: str) -> dict[str, Any]:
    """An ID token the provider issues to ``client_id`` (the code flow by hand, with Authlib's client)."""
    from authlib.integrations.requests_client import OAuth2Session

    client = OAuth2Session(client_id, "any", scope="openid email profile", redirect_uri=REDIRECT)
    url, _ = client.create_authorization_url(f"{provider.url}/oauth2/authorize", nonce=nonce)
    back = provider.authorize(url, sub)
    return dict(client.fetch_token(f"{provider.url}/oauth2/token", code=back["code"], timeout=10))


def test_tampered_wrong_audience_and_wrong_nonce_tokens_are_refused(oidc_provider: OidcProvider) -> None:
    provider = oidc_provider
    provider.sagemaker_user("dave", ["labelers"])
    cfg = provider.config()
    jwks = requests.get(cfg.jwks_uri, timeout=10).json()
    good = _real_tokens(provider, CLIENT_ID, "dave", "n-1")["id_token"]
    claims = oidc_signin.verify_id_token(cfg, good, "n-1", jwks)
    assert claims["sagemaker:groups"] == ["labelers"] and claims["aud"] in (CLIENT_ID, [CLIENT_ID])
    # tampered: the payload changed (more groups), the signature kept
    head, body, sig = good.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["sagemaker:groups"] = ["admins"]
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidCredentials, match="signature"):
        oidc_signin.verify_id_token(cfg, f"{head}.{forged}.{sig}", "n-1", jwks)
    with pytest.raises(InvalidCredentials, match="signature"):
        oidc_signin.verify_id_token(cfg, f"{head}.{body}.{sig[:-4]}AAAA", "n-1", jwks)
    # "alg": "none" is refused
    none_head = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises(InvalidCredentials, match="signature"):
        oidc_signin.verify_id_token(cfg, f"{none_head}.{body}.", "n-1", jwks)
    # a real token issued to another client
    other = _real_tokens(provider, "another-app", "dave", "n-2")["id_token"]
    with pytest.raises(InvalidCredentials, match="aud"):
        oidc_signin.verify_id_token(cfg, other, "n-2", jwks)
    # a token minted for another sign-in (nonce) and one from another issuer's settings
    with pytest.raises(InvalidCredentials, match="nonce"):
        oidc_signin.verify_id_token(cfg, good, "n-other", jwks)
    with pytest.raises(InvalidCredentials, match="iss"):
        oidc_signin.verify_id_token(dataclasses.replace(cfg, issuer="https://idp.example.com"), good, "n-1", jwks)


def test_claims_mapping_rules(oidc_provider: OidcProvider) -> None:
    cfg = oidc_provider.config()
    ident = oidc_identity.identity_from_claims(cfg, {"sub": "s1", "sagemaker:groups": ["a", "b"], "email": "bad"})
    assert ident.worker_sub == "s1" and ident.email is None and ident.groups == ("a", "b")
    with pytest.raises(InvalidCredentials, match="10 groups"):
        oidc_identity.identity_from_claims(cfg, {"sub": "s", "sagemaker:groups": [f"g{i}" for i in range(11)]})
    with pytest.raises(InvalidCredentials, match="another client"):
        oidc_identity.identity_from_claims(cfg, {"sub": "s", "sagemaker:client_id": "someone-else"})


def test_disabled_person_stays_out_and_local_worker_sign_in_switch(
    world: tuple[Context, People, OidcProvider],
) -> None:
    from gtcore.workforce import roster

    ctx, people, provider = world
    provider.sagemaker_user("erin", ["labelers"], email="erin@corp.example")
    session = _sign_in(ctx, provider, "erin")
    roster.disable_user(ctx, people.root(), session.user_id)
    with pytest.raises(InvalidCredentials, match="disabled"):
        _sign_in(ctx, provider, "erin")
    worker = people.worker("team-a")
    lead = people.root()
    off = Context(settings=dataclasses.replace(ctx.settings, local_worker_signin=False), db=ctx.db)
    with pytest.raises(InvalidCredentials, match="administrators"):
        signin.sign_in(off, worker.email, PASSWORD, "c1")
    assert signin.sign_in(off, lead.email, PASSWORD, "c1").user_id == lead.user_id  # the break-glass admin
    assert signin.sign_in(ctx, worker.email, PASSWORD, "c1").user_id == worker.user_id


def test_logout_url(oidc_provider: OidcProvider) -> None:
    url = oidc_config.logout_url(oidc_provider.config(), "http://127.0.0.1:8501/")
    assert url.startswith(f"{oidc_provider.url}/oauth2/end_session?client_id={CLIENT_ID}&post_logout_redirect_uri=")


def test_discovery_fills_endpoints(oidc_provider: OidcProvider) -> None:
    empty = oidc_config.OidcConfig("", "", "", "", "", "", "", "")
    filled = oidc_config.with_discovery(empty, oidc_config.discover(oidc_provider.url))
    assert filled.jwks_uri == f"{oidc_provider.url}/jwks" and filled.logout_endpoint.endswith("/oauth2/end_session")
    with pytest.raises(ValidationError, match="cannot be read"):
        oidc_config.discover("http://127.0.0.1:9/")


def test_oidc_worker_answers_carry_oidc_metadata_and_a_removed_group_returns_his_task(
    world: tuple[Context, People, OidcProvider], tmp_path: Path
) -> None:
    from gtcore.queue import api as queue
    from tests.fixtures.core import run_work
    from tests.fixtures.queue import box_answer, insert_job, make_user

    ctx, people, provider = world
    lead = people.root()
    people.team("team-a")
    oidc_teams.set_team_groups(ctx, lead, "team-a", ["labelers"])
    with ctx.db.read() as conn:
        team_id = oidc_teams.resolve_team_id(conn, "team-a")
    out = tmp_path / "out"
    out.mkdir()
    job = insert_job(ctx.db, team_id=team_id, output_path=str(out), n_objects=2, workers_per_object=2)
    local = make_user(ctx.db, "local@example.test", team_ids=(team_id,))
    provider.sagemaker_user("frank", ["labelers"], email="frank@corp.example")
    frank = workforce.actor_for_token(ctx, _sign_in(ctx, provider, "frank").token)
    for who in (frank, local):
        task = queue.claim_next(ctx, who, job)
        assert task is not None and task.object_idx == 0 or who is local
        queue.submit(ctx, who, task.assignment_id, box_answer())
    run_work(ctx)
    (path,) = sorted((out).rglob("worker-response/**/*.json"))
    answers = {a["workerId"]: a["workerMetadata"]["identityData"] for a in json.loads(path.read_text())["answers"]}
    assert answers[frank.worker_id] == {"identityProviderType": "Oidc", "issuer": provider.url, "sub": "sm-frank"}
    assert answers[local.worker_id]["identityProviderType"] == "Cognito"

    # frank holds the next task; the provider removes his group: at his next sign-in the task goes back
    held = queue.claim_next(ctx, frank, job)
    assert held is not None
    provider.sagemaker_user("frank", ["other"], email="frank@corp.example")
    frank = workforce.actor_for_token(ctx, _sign_in(ctx, provider, "frank").token)
    assert frank.team_ids == frozenset()
    with ctx.db.read() as conn:
        status = conn.execute(
            select(dbm.assignments.c.status).where(dbm.assignments.c.id == held.assignment_id)
        ).scalar_one()
    assert status == "released"
    with pytest.raises(PermissionDenied):  # no more tasks of that team's jobs
        queue.claim_next(ctx, frank, job)


def test_cli_sets_describes_and_maps_groups(
    octx: Context, oidc_provider: OidcProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import io

    from gtcore.cli.command import main

    settings = octx.settings
    for k, v in {
        "GT_HOME": str(settings.home),
        "GT_DATABASE_URL": settings.database_url,
        "GT_LOCAL_ROOTS": str(tmp_path),
        "GT_SECRET_KEY": SECRET_KEY,
    }.items():
        monkeypatch.setenv(k, v)
    People(octx).team("team-a")
    cfg = tmp_path / "oidc.json"
    cfg.write_text(json.dumps({"ClientId": CLIENT_ID, "Issuer": oidc_provider.url}))
    monkeypatch.setattr("sys.stdin", io.StringIO(CLIENT_SECRET + "\n"))
    assert main(["set-oidc-config", "--oidc-config", f"file://{cfg}", "--client-secret-stdin", "--discover"]) == 0
    shown = json.loads(capsys.readouterr().out)["OidcConfig"]
    assert shown["JwksUri"] == f"{oidc_provider.url}/jwks" and "ClientSecret" not in shown
    assert oidc_config.load_config(octx).client_secret == CLIENT_SECRET  # type: ignore[union-attr]
    assert main(["set-team-groups", "team-a", "labelers", "qa"]) == 0
    assert json.loads(capsys.readouterr().out)["MemberDefinitions"][0]["OidcMemberDefinition"]["Groups"] == [
        "labelers",
        "qa",
    ]
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["set-oidc-config", "--oidc-config", f"file://{bad}"]) == 1
    assert str(bad) in capsys.readouterr().err
    assert main(["remove-oidc-config"]) == 0
    assert oidc_config.load_config(octx) is None


def test_workforce_page_sets_the_provider_and_team_groups(
    app_world: Any, oidc_provider: OidcProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.labeling import app_as, open_page

    monkeypatch.setenv("GT_SECRET_KEY", SECRET_KEY)
    world = app_world
    ctx = Context(settings=dataclasses.replace(world.ctx.settings, secret_keys=(SECRET_KEY,)), db=world.ctx.db)
    at = open_page(app_as(world, world.admin), "pages/workforce.py")
    assert not at.exception
    at.text_input(key="oidc_discover_issuer").input(oidc_provider.url)
    at.button(key="oidc_discover").click().run()
    assert not at.exception
    assert at.text_input(key="oidc_jwks_uri").value == f"{oidc_provider.url}/jwks"
    at.text_input(key="oidc_client_id").input(CLIENT_ID)
    at.text_input(key="oidc_issuer").input(oidc_provider.url)
    at.button(key="oidc_save").click().run()
    assert at.error and "ClientSecret: is required" in "\n".join(c.value for c in at.code)  # nothing stored yet
    assert oidc_config.load_config(ctx) is None
    at.text_input(key="oidc_client_secret").input(CLIENT_SECRET)
    at.text_area(key="oidc_extra").input("prompt=login")
    at.button(key="oidc_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    stored = oidc_config.load_config(ctx)
    assert (
        stored is not None
        and stored.client_secret == CLIENT_SECRET
        and dict(stored.extra_params) == {"prompt": "login"}
    )
    at.text_input(key="oidc_groups").input("labelers, qa")
    at.button(key="oidc_groups_save").click().run()
    assert not at.error, [e.value for e in at.error]
    assert oidc_teams.team_groups(ctx, world.admin, "team-a") == ["labelers", "qa"]
    at.text_input(key="oidc_groups").input("has space")
    at.button(key="oidc_groups_save").click().run()
    assert at.error and oidc_teams.team_groups(ctx, world.admin, "team-a") == ["labelers", "qa"]


def test_pkce_verifier_sent_to_the_token_endpoint_matches_the_challenge(
    world: tuple[Context, People, OidcProvider],
) -> None:
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    from tests.fixtures.oidc import TokenProxy

    ctx, people, provider = world
    proxy = TokenProxy(provider)
    try:
        oidc_config.save_config(ctx, people.root(), dataclasses.replace(provider.config(), token_endpoint=proxy.url))
        provider.sagemaker_user("hank", ["labelers"])
        begun = oidc_signin.begin(ctx, REDIRECT)
        query = {k: v[0] for k, v in parse_qs(urlsplit(begun.url).query).items()}
        assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"
        back = provider.authorize(begun.url, "hank")
        oidc_signin.complete(ctx, state=back["state"], code=back["code"], binding=begun.binding)
    finally:
        proxy.close()
    (body,) = proxy.bodies
    digest = hashlib.sha256(body["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert body["grant_type"] == "authorization_code" and body["redirect_uri"] == REDIRECT
    with ctx.db.read() as conn:  # the verifier is stored sealed, never in plain text
        assert body["code_verifier"] not in str(conn.execute(select(dbm.oidc_logins)).all())


def test_changing_a_teams_groups_moves_signed_in_people_at_once(world: tuple[Context, People, OidcProvider]) -> None:
    ctx, people, provider = world
    lead = people.root()
    people.team("team-a")
    local = people.worker("team-a")  # a local member: never touched by the groups
    provider.sagemaker_user("ivy", ["labelers"], email="ivy@corp.example")
    ivy = _sign_in(ctx, provider, "ivy").user_id
    with ctx.db.read() as conn:
        tid = oidc_teams.resolve_team_id(conn, "team-a")
    assert workforce.actor_for(ctx, ivy).team_ids == frozenset()
    oidc_teams.set_team_groups(ctx, lead, "team-a", ["labelers"])
    assert workforce.actor_for(ctx, ivy).team_ids == frozenset({tid})
    oidc_teams.set_team_groups(ctx, lead, "team-a", ["reviewers"])
    assert workforce.actor_for(ctx, ivy).team_ids == frozenset()
    assert tid in workforce.actor_for(ctx, local.user_id).team_ids  # type: ignore[arg-type]
