"""Write the OpenAPI document a deployed stage serves, for linters: ``python -m tools.openapi.document OUT``.

The document is the one ``GET /openapi.json`` answers (``mvdb.api.docs``), generated in-process
for a stage at ``/dev`` whose token URL is a Cognito domain's; nothing is called.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

STAGE = "/dev"
TOKEN_URL = "https://mvdb-dev-123456789012.auth.us-east-1.amazoncognito.com/oauth2/token"  # noqa: S105 - a URL


def openapi_document(stage: str = STAGE, token_url: str = TOKEN_URL) -> dict[str, object]:
    """The document a client reading ``<api>/<stage>/openapi.json`` gets."""
    from mvdb.api.http_api import create_app
    from mvdb.config import Settings
    from mvdb_local.gateway import request_event
    from mvdb_local.server import LambdaContext

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    api = create_app(Settings(table_name="mvdb-movies", region="us-east-1", token_url=token_url))
    response = api.handle(request_event("GET", "/openapi.json", base_path=stage), LambdaContext())
    if response["statusCode"] != 200:
        raise RuntimeError(f"GET /openapi.json answered {response['statusCode']}: {response['body'][:300]}")
    document: dict[str, object] = json.loads(response["body"])
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(openapi_document(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
