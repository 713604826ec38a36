"""OIDC sign-in in Debian chromium (issue 24): the real app.py under ``streamlit run`` and a real identity provider
process (oidc-provider-mock) over HTTP. First sign-in, sagemaker:groups to teams (the team's job in the portal), a
replayed callback (state used), sign-out with the provider's logout offered, a removed group losing the job; a
tampered ID token and one issued to another client (swapped in by a proxy in front of the token endpoint) refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.workforce import oidc_config, oidc_teams
from gtcore.workforce import users as workforce
from tests.browser import exception_text, new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld
from tests.fixtures.oidc import SECRET_KEY, OidcProvider, TokenProxy

pytestmark = pytest.mark.browser
SIGN_IN_LINK = "Sign in with your organization"


@pytest.fixture
def oidc_world(label_world: LabelWorld, oidc_provider: OidcProvider) -> tuple[LabelWorld, Context]:
    w = label_world
    ctx = Context(settings=dataclasses.replace(w.ctx.settings, secret_keys=(SECRET_KEY,)), db=w.ctx.db)
    w.env["GT_SECRET_KEY"] = SECRET_KEY
    oidc_config.save_config(ctx, w.admin, oidc_provider.config())
    w.people.team("team-b")
    oidc_teams.set_team_groups(ctx, w.admin, "team-a", ["labelers"])
    oidc_teams.set_team_groups(ctx, w.admin, "team-b", ["reviewers"])
    return w, ctx


def _provider_sign_in(page: Any, base_url: str, sub: str) -> None:
    page.goto(base_url)
    wait_for_idle(page)
    page.get_by_role("link", name=SIGN_IN_LINK).click()
    page.locator("input[name=sub]").wait_for(timeout=30_000)
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def _signed_in_as(page: Any, who: str) -> None:
    page.get_by_text(f"Signed in as {who}").wait_for(timeout=60_000)
    assert exception_text(page) is None


def _user_id(ctx: Context, email: str) -> int:
    with ctx.db.read() as conn:
        return int(conn.execute(dbm.users.select().where(dbm.users.c.email_lower == email)).one().id)


def test_first_sign_in_groups_replay_sign_out_and_removed_group(
    oidc_world: tuple[LabelWorld, Context], oidc_provider: OidcProvider, streamlit_app: Any, browser: Any
) -> None:
    w, ctx = oidc_world
    job = w.box_job("oidc-a", [w.image("i0", (320, 240))])
    provider = oidc_provider
    provider.sagemaker_user("gina", ["labelers"], email="gina@corp.example", name="Gina G")
    url = streamlit_app(APP, w.env)

    page = new_page(browser)
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/_gt/oidc/callback" in r.url else None)
    _provider_sign_in(page, url, "gina")
    _signed_in_as(page, "gina@corp.example")
    gina = workforce.actor_for(ctx, _user_id(ctx, "gina@corp.example"))
    assert gina.roles == frozenset({"worker"})
    page.goto(f"{url}/portal")
    wait_for_idle(page)
    page.get_by_text(job.name).first.wait_for(timeout=30_000)

    # the provider's redirect replayed (browser history, a leaked link): the state is spent
    assert callbacks, "the provider never redirected back"
    replay = new_page(browser)
    replay.goto(callbacks[0])
    replay.get_by_text("Sign-in failed").wait_for(timeout=30_000)
    assert "already used" in replay.content() or "another browser" in replay.content()
    replay.context.close()
    page.goto(callbacks[0])  # same browser too
    page.get_by_text("already used").wait_for(timeout=30_000)

    # sign out: the product's session ends, the provider's logout is offered
    page.goto(url)
    wait_for_idle(page)
    page.get_by_role("button", name="Sign out").click()
    logout = page.get_by_role("link", name="Also sign out of your organization's account")
    logout.wait_for(timeout=30_000)
    assert logout.get_attribute("href").startswith(f"{provider.url}/oauth2/end_session?client_id=")
    page.get_by_role("link", name=SIGN_IN_LINK).wait_for(timeout=30_000)

    # the provider moves gina to another group: at her next sign-in team-a's job is gone from her portal
    provider.sagemaker_user("gina", ["reviewers"], email="gina@corp.example")
    _provider_sign_in(page, url, "gina")
    _signed_in_as(page, "gina@corp.example")
    with ctx.db.read() as conn:
        b_id = oidc_teams.resolve_team_id(conn, "team-b")
    assert workforce.actor_for(ctx, gina.user_id).team_ids == frozenset({b_id})  # type: ignore[arg-type]
    page.goto(f"{url}/portal")
    wait_for_idle(page)
    page.get_by_role("heading", name="Worker portal").wait_for(timeout=30_000)
    wait_for_idle(page)
    assert page.get_by_text(job.name).count() == 0
    page.context.close()


@pytest.fixture
def swap_proxy() -> Iterator[list[TokenProxy]]:
    made: list[TokenProxy] = []
    yield made
    for p in made:
        p.close()


@pytest.mark.parametrize(("mode", "why"), [("tamper", "signature does not verify"), ("audience", "aud claim")])
def test_tampered_or_foreign_id_token_is_refused_in_the_browser(
    oidc_world: tuple[LabelWorld, Context],
    oidc_provider: OidcProvider,
    streamlit_app: Any,
    browser: Any,
    swap_proxy: list[TokenProxy],
    mode: str,
    why: str,
) -> None:
    w, ctx = oidc_world
    proxy = TokenProxy(oidc_provider, mode)
    swap_proxy.append(proxy)
    oidc_config.save_config(ctx, w.admin, dataclasses.replace(oidc_provider.config(), token_endpoint=proxy.url))
    oidc_provider.sagemaker_user("mallory", ["labelers"], email="mallory@corp.example")
    url = streamlit_app(APP, w.env)
    page = new_page(browser)
    _provider_sign_in(page, url, "mallory")
    page.get_by_text("Sign-in failed").wait_for(timeout=60_000)
    assert why in page.content()
    assert "gt_session" not in {c["name"] for c in page.context.cookies()}
    with ctx.db.read() as conn:
        assert conn.execute(dbm.oidc_identities.select()).first() is None  # nobody was let in
    page.get_by_role("link", name="Back to the sign-in page").click()
    page.get_by_role("link", name=SIGN_IN_LINK).wait_for(timeout=30_000)
    assert urlsplit(page.url).path in ("/", "")
    wait_until(lambda: exception_text(page) is None, timeout=5)
    page.context.close()
