"""Ground Truth's own API over HTTP: the ``sagemaker`` JSON 1.1 protocol, SigV4-signed, so boto3's ``sagemaker``
client and the AWS CLI work unchanged against ``<app>/api/sagemaker`` or ``gtcore serve-api``.

- ``model``: botocore's installed service model (operation names, shapes, constraints, error codes), checking
  inputs against it and shaping outputs by it;
- ``auth``: SigV4 verification with botocore's own signer and per-user access keys;
- ``registry``: the operations served, one function each (``ops_jobs``, ``ops_teams``, ``ops_tags``);
- ``server``: the Starlette endpoint (a route of the Streamlit app, or the standalone ASGI app).

It sits beside ``gtcore.cli`` (both are ways into the same gtcore calls) and is the one package above
``gtcore.storage`` allowed to import botocore.
"""
