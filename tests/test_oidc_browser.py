"""OIDC sign-in in Debian chromium (issue 24): the real app.py under ``streamlit run`` and a real identity provider
process (oidc-provider-mock) over HTTP. First sign-in, sagemaker:groups to teams (the team's job in the portal), a
replayed callback (state used), sign-out with the provider's logout offered, a removed group losing the job; a
tampered ID token and one issued to another client (swapped in by a proxy in front of the token endpoint) refused."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.workforce import oidc_config, oidc_teams
from gtcore.workforce import users as workforce
from tests.browser import exception_text, new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld
from tests.fixtures.oidc import SECRET_KEY, OidcProvider

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


class _SwapProxy:
    """A token endpoint in front of the provider's that changes the ID token on its way back to the app."""

    def __init__(self, provider: OidcProvider, mode: str) -> None:
        self.provider, self.mode = provider, mode
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = urllib.request.Request(
                    f"{proxy.provider.url}/oauth2/token", data=body, method="POST",
                    headers={k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")},
                )  # fmt: skip
                with urllib.request.urlopen(req, timeout=10) as r:
                    token = json.loads(r.read())
                token["id_token"] = proxy.swap(token["id_token"])
                out = json.dumps(token).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def swap(self, id_token: str) -> str:
        head, body, sig = id_token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if self.mode == "tamper":  # more groups, signature kept
            claims["sagemaker:groups"] = ["labelers", "reviewers", "admins"]
            forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            return f"{head}.{forged}.{sig}"
        # a genuine token the provider issued to another client, for the same person and nonce
        from authlib.integrations.requests_client import OAuth2Session

        redirect = "http://127.0.0.1:1/cb"
        client = OAuth2Session("another-app", "x", scope="openid email profile", redirect_uri=redirect)
        auth_url, _ = client.create_authorization_url(f"{self.provider.url}/oauth2/authorize", nonce=claims["nonce"])
        back = self.provider.authorize(auth_url, str(claims["sub"]))
        return str(client.fetch_token(f"{self.provider.url}/oauth2/token", code=back["code"], timeout=10)["id_token"])


@pytest.fixture
def swap_proxy() -> Iterator[list[_SwapProxy]]:
    made: list[_SwapProxy] = []
    yield made
    for p in made:
        p.server.shutdown()


@pytest.mark.parametrize(("mode", "why"), [("tamper", "signature does not verify"), ("audience", "aud claim")])
def test_tampered_or_foreign_id_token_is_refused_in_the_browser(
    oidc_world: tuple[LabelWorld, Context],
    oidc_provider: OidcProvider,
    streamlit_app: Any,
    browser: Any,
    swap_proxy: list[_SwapProxy],
    mode: str,
    why: str,
) -> None:
    w, ctx = oidc_world
    proxy = _SwapProxy(oidc_provider, mode)
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
