"""`gtcore generate-manifest` and `gtcore validate-manifest`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gtcore.cli.common import context


def register(sub: Any) -> None:
    gen = sub.add_parser(
        "generate-manifest",
        help="list the images under a folder or S3 prefix and write an input manifest",
        description=(
            "Automated data setup: list every .jpg/.jpeg/.png (any case) under PREFIX, recursively, "
            'sorted by key, and write one {"source-ref": "<uri>"} line per image. Prints the URI of the '
            "manifest written (default PREFIX/dataset-YYYYMMDDTHHMMSS.manifest, UTC)."
        ),
    )
    gen.add_argument("prefix", help="a local folder (absolute path) or s3://bucket/prefix")
    gen.add_argument("--output", metavar="URI", help="where to write the manifest (default: inside PREFIX)")
    gen.set_defaults(func=_generate)

    val = sub.add_parser(
        "validate-manifest",
        help="check an input or output manifest and print every problem with its line number",
        description=(
            "Check a manifest (input, or an augmented output manifest) line by line: JSON objects, "
            "source-ref or source, allowed URIs, 100,000 characters per line, 20,000 per attribute, no "
            "attribute names beginning with '$'. Exit status 0 when clean, 1 when any problem is found."
        ),
    )
    val.add_argument("uri", help="the manifest: a local path or s3://bucket/key")
    val.set_defaults(func=_validate)


def _generate(args: argparse.Namespace) -> int:
    from gtcore.manifests.datasetup import generate_manifest

    result = generate_manifest(context().storage, args.prefix, args.output)
    print(f"wrote {result.count} line(s)", file=sys.stderr)
    print(result.manifest_uri)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from gtcore.manifests.jsonl import load_manifest

    records, problems = load_manifest(context().storage, args.uri)
    if not problems:
        print(f"{args.uri}: {len(records)} lines, no problems")
        return 0
    for problem in problems:
        print(problem)
    print(f"{args.uri}: {len(problems)} problem(s)")
    return 1
