"""`gtcore` subcommands for the SageMaker API: the standalone server and access keys.

gtcore serve-api [--host 127.0.0.1] [--port 8502] [--workers N]   the API alone (uvicorn), at / and /api/sagemaker
gtcore create-access-key --email ADDRESS      prints IAM CreateAccessKey's {"AccessKey": {...}} (secret shown once)
gtcore delete-access-key --access-key-id ID   revokes a key at once
gtcore generate-secret-key                    prints a new server key for GT_SECRET_KEY
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from gtcore.cli.common import context, operator, print_json
from gtcore.core.errors import ConfigError
from gtcore.workforce import access_keys, roster

APP = "gtcore.api.server:create_app"  # an import string: uvicorn imports it (in each worker process)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    ctx = context()  # fail early, before binding, on unusable settings (and migrate the schema)
    if not ctx.settings.secret_keys:
        raise ConfigError("GT_SECRET_KEY is not set: no access key could be checked (gtcore generate-secret-key)")
    uvicorn.run(APP, factory=True, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    return 0


def _create(args: argparse.Namespace) -> int:
    ctx = context()
    user_id = roster.find_user_id(ctx, operator(), args.email)
    key = access_keys.create_access_key(ctx, operator(), user_id)
    print_json(
        {
            "AccessKey": {
                "UserName": key.email,
                "AccessKeyId": key.key_id,
                "SecretAccessKey": key.secret,
                "Status": "Active",
                "CreateDate": datetime.fromtimestamp(key.created_at, tz=UTC).isoformat(),
            }
        }
    )
    return 0


def _delete(args: argparse.Namespace) -> int:
    access_keys.delete_access_key(context(), operator(), args.access_key_id)
    return 0  # like `aws iam delete-access-key`: no output


def _generate(args: argparse.Namespace) -> int:
    print(access_keys.generate_server_key())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve-api",
        help="serve the SageMaker API alone (boto3 / AWS CLI endpoint), without the web app",
        description="Serve Ground Truth's API (JSON 1.1, SigV4) on an ASGI server (uvicorn) at / and "
        "/api/sagemaker, for deployments that split the API from the web app (which serves it at "
        "<app>/api/sagemaker too). Needs GT_SECRET_KEY and the same GT_* settings as the app.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8502, help="port (default 8502)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=_serve)

    p = sub.add_parser(
        "create-access-key",
        help="a new API access key for a user (prints the secret once)",
        description="Create an access key for the user with this e-mail address and print it in IAM "
        "CreateAccessKey's shape. The secret is shown only now; it is stored sealed with GT_SECRET_KEY.",
    )
    p.add_argument("--email", required=True, metavar="ADDRESS", help="the key's owner")
    p.set_defaults(func=_create)

    p = sub.add_parser("delete-access-key", help="revoke an API access key", description="Revoke a key at once.")
    p.add_argument("--access-key-id", required=True, metavar="ID")
    p.set_defaults(func=_delete)

    p = sub.add_parser(
        "generate-secret-key",
        help="print a new server key for GT_SECRET_KEY",
        description="Print a new random server key (64 url-safe characters). Put it in GT_SECRET_KEY in the "
        "environment of every app, worker and serve-api process (a secrets manager or a 0600 environment file, not "
        "the repository): it seals every stored secret (API access keys, the OIDC client secret). To rotate: "
        "GT_SECRET_KEY=<new>,<old> (the first seals new secrets, every one opens them).",
    )
    p.set_defaults(func=_generate)
