"""API access keys: made and revoked by the owner, by admins and by the CLI; secrets encrypted at rest with the
server key (rotation included); the Account and Workforce pages (AppTest). SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import sealing
from gtcore.core.errors import ConfigError, LimitExceeded, NotFound, PermissionDenied
from gtcore.core.settings import Settings
from gtcore.workforce import access_keys
from tests.fixtures.people import People

REPO = Path(__file__).resolve().parents[1]


def with_key(ctx: Context, *keys: str) -> Context:
    return Context(settings=dataclasses.replace(ctx.settings, secret_keys=keys), db=ctx.db)


def test_keys_encrypted_limited_and_owned(any_ctx: Context) -> None:
    people = People(any_ctx)
    admin, worker, auditor = people.root(), people.worker("team-a"), people.auditor()
    with pytest.raises(ConfigError, match="GT_SECRET_KEY"):
        access_keys.create_access_key(with_key(any_ctx), worker, worker.user_id or 0)
    server_key = access_keys.generate_server_key()
    ctx = with_key(any_ctx, server_key)
    mine = access_keys.create_access_key(ctx, worker, worker.user_id or 0)
    assert len(mine.key_id) == 20 and mine.key_id.startswith("AKGT") and len(mine.secret) == 40
    with ctx.db.read() as conn:
        stored = conn.execute(select(dbm.access_keys.c.secret_enc)).scalar_one()
    assert mine.secret not in stored  # only the sealed token is stored
    assert sealing.unseal(ctx.settings, stored) == mine.secret  # sealed by the one rule (core.sealing)
    found = access_keys.secret_for(ctx, mine.key_id)
    assert found is not None and found.secret == mine.secret and found.user_id == worker.user_id

    # rotation: a new server key first, the old one still decrypts; without the old one the key is dead
    rotated = with_key(any_ctx, access_keys.generate_server_key(), server_key)
    assert (access_keys.secret_for(rotated, mine.key_id) or access_keys.KeySecret(0, "", None)).secret == mine.secret
    assert access_keys.secret_for(with_key(any_ctx, access_keys.generate_server_key()), mine.key_id) is None
    with pytest.raises(ConfigError, match="GT_SECRET_KEY is not set"):  # no key at all: misconfigured, not "unknown"
        access_keys.secret_for(with_key(any_ctx), mine.key_id)

    access_keys.create_access_key(ctx, admin, worker.user_id or 0)  # an admin for anyone
    with pytest.raises(LimitExceeded):
        access_keys.create_access_key(ctx, worker, worker.user_id or 0)
    with pytest.raises(PermissionDenied):
        access_keys.create_access_key(ctx, auditor, worker.user_id or 0)  # not his own, not an admin
    with pytest.raises(NotFound):
        access_keys.delete_access_key(ctx, auditor, mine.key_id)  # another's key does not exist for him
    assert [k.key_id for k in access_keys.list_access_keys(ctx, worker)][0] in {mine.key_id} | {
        k.key_id for k in access_keys.list_access_keys(ctx, admin, worker.user_id)
    }
    access_keys.delete_access_key(ctx, worker, mine.key_id)
    assert access_keys.secret_for(ctx, mine.key_id) is None
    assert len(access_keys.list_access_keys(ctx, admin, -1)) == 1
    with pytest.raises(PermissionDenied):
        access_keys.list_access_keys(ctx, worker, -1)


def test_cli_create_and_delete_access_key(tmp_path: Path) -> None:
    from tests.fixtures.core import make_settings

    key = access_keys.generate_server_key()
    settings = make_settings(tmp_path, GT_SECRET_KEY=key)
    ctx = Context.from_settings(settings)
    worker = People(ctx).worker("team-a", "ann@example.test")
    env = {
        "GT_HOME": str(settings.home),
        "GT_DATABASE_URL": settings.database_url,
        "GT_LOCAL_ROOTS": str(tmp_path),
        "GT_SECRET_KEY": key,
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
    }
    run = [sys.executable, "-m", "gtcore.cli.command"]
    out = subprocess.run([*run, "create-access-key", "--email", "ANN@example.test"], env=env, capture_output=True)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)["AccessKey"]
    assert set(made) == {"UserName", "AccessKeyId", "SecretAccessKey", "Status", "CreateDate"}
    assert made["UserName"] == worker.email and made["Status"] == "Active"
    assert (access_keys.secret_for(ctx, made["AccessKeyId"]) or access_keys.KeySecret(0, "", None)).secret == (
        made["SecretAccessKey"]
    )
    out = subprocess.run(
        [*run, "delete-access-key", "--access-key-id", made["AccessKeyId"]], env=env, capture_output=True
    )
    assert out.returncode == 0 and out.stdout == b""
    assert access_keys.secret_for(ctx, made["AccessKeyId"]) is None
    again = subprocess.run(
        [*run, "delete-access-key", "--access-key-id", made["AccessKeyId"]], env=env, capture_output=True
    )
    assert again.returncode == 1 and b"no access key" in again.stderr
    nokey = {k: v for k, v in env.items() if k != "GT_SECRET_KEY"}
    out = subprocess.run([*run, "create-access-key", "--email", worker.email], env=nokey, capture_output=True)
    assert out.returncode == 1 and b"GT_SECRET_KEY" in out.stderr
    gen = subprocess.run([*run, "generate-secret-key"], env=env, capture_output=True)
    assert gen.returncode == 0 and len(gen.stdout.strip()) == 64
    assert Settings.from_env({"GT_SECRET_KEY": gen.stdout.decode().strip()}).secret_keys  # long enough to be used


def test_account_page_makes_and_deletes_my_key(page_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    people = People(page_ctx)
    auditor = people.auditor()
    at = AppTest.from_file(str(REPO / "pages/account.py"), default_timeout=60)
    at.session_state["gt_token"] = people.token(auditor)
    at.run()
    assert any("GT_SECRET_KEY" in str(i.value) for i in at.info)
    assert not [b for b in at.button if b.key == "ak_mine_create"]  # nothing offered without a server key

    monkeypatch.setenv("GT_SECRET_KEY", access_keys.generate_server_key())
    at.run()
    at.button(key="ak_mine_create").click().run()
    assert not at.exception
    shown = " ".join(str(c.value) for c in at.code)
    ctx = Context.from_env()
    keys = access_keys.list_access_keys(ctx, auditor)
    assert len(keys) == 1 and keys[0].key_id in shown
    secret = (access_keys.secret_for(ctx, keys[0].key_id) or access_keys.KeySecret(0, "", None)).secret
    assert secret and secret in shown and "/api/sagemaker" in shown
    at.run()  # shown once: the next run lists the id only
    assert secret not in " ".join(str(c.value) for c in at.code)
    at.selectbox(key="ak_mine_delete_pick").select(keys[0].key_id)
    at.button(key="ak_mine_delete").click().run()
    assert access_keys.list_access_keys(ctx, auditor) == []


def test_workforce_page_key_for_a_worker(page_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GT_SECRET_KEY", access_keys.generate_server_key())
    people = People(page_ctx)
    admin = people.root()
    worker = people.worker("team-a", "bob@example.test")
    at = AppTest.from_file(str(REPO / "pages/workforce.py"), default_timeout=60)
    at.session_state["gt_token"] = people.token(admin)
    at.run()
    at.selectbox(key="ak_wf_user").select(worker.user_id)
    at.button(key="ak_wf_create").click().run()
    assert not at.exception
    ctx = Context.from_env()
    keys = access_keys.list_access_keys(ctx, admin, -1)
    assert [k.email for k in keys] == [worker.email]
    at.run()
    at.selectbox(key="ak_wf_delete_pick").select(keys[0].key_id)
    at.button(key="ak_wf_delete").click().run()
    assert access_keys.list_access_keys(ctx, admin, -1) == []
