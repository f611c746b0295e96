"""A local stand-in for the AWS endpoints the deploy path calls, which records every request.

``sam package`` and ``sam deploy`` (and anything else built on botocore) send their calls here
when ``AWS_ENDPOINT_URL`` names it. Each request is written, before it is answered, as one JSON
line: the service (from the SigV4 credential scope), method, path, query, the headers that IAM
conditions read (``x-amz-*``, content type and length; never the signature), and the body (form
fields for the query protocol, JSON for the JSON protocols, only size and SHA-256 for uploads).
``tests/deploy/aws_calls.py`` turns the lines into IAM requests.

Who answers:

* S3: moto's server application (moto's own building blocks, ``DomainDispatcherApplication``
  and ``create_backend_app``), which behaves like S3 (versioning, tagging reads, multipart).
* CloudFormation: a change-set lifecycle that always succeeds (``CloudFormationStandIn``), so
  that ``sam deploy`` makes every call of a successful deploy. moto's CloudFormation cannot take
  a template that uses the SAM transform (it fails on the transform's own references, such as
  ``MoviesFunction.Version``), and it drops most properties anyway: nothing here is a deploy test.
* AWS Signer, which moto does not implement: ``StartSigningJob`` copies the named object
  version to ``<prefix><job id>.zip`` in the destination bucket, the way Signer writes a signed
  object, reading and writing through this endpoint on the caller's behalf (recorded with
  ``"on_behalf_of": "signer.amazonaws.com"``: Signer uses the caller's S3 permissions);
  ``DescribeSigningJob`` reports the job Succeeded. No signature is made: there is no key.

The endpoint's path. The SAM CLI writes every uploaded object's URL as ``<endpoint>/<bucket>/<key>``
(``S3Uploader.to_path_style_s3_url``) and later accepts such a URL as a nested stack's
``Location`` only if it looks like S3's (``samcli/lib/package/utils.py``, ``is_s3_url``): a bare
``http://localhost:<port>`` does not, so ``sam deploy`` of a packaged template with nested
applications would refuse it. The endpoint therefore ends in a path, ``ENDPOINT_PATH``, shaped
like an S3 host name; botocore puts it in front of every request path, and the stand-in takes it
off again before recording and answering, so the recorded paths are the ones S3 would see.

Usage (in the .tools/deploy environment, which has moto)::

    python -m tools.deploy.recording_endpoint --record build/deploy-path/calls.jsonl [--bucket NAME]

prints ``http://localhost:<port>/stand-in.s3.amazonaws.com`` on its first line once it listens
(port chosen by the OS), and serves until stdin closes or SIGTERM. ``--bucket`` creates a
versioned bucket first.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

__all__ = ["ENDPOINT_PATH", "RecordingApplication", "main"]

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_RECORDED_HEADERS = re.compile(
    r"^(x-amz-(?!date$|security-token$|content-sha256$).*|content-type|content-length|x-amz-target)$"
)
ON_BEHALF_HEADER = "X-Recorder-On-Behalf-Of"
# Matches the SAM CLI's virtual-hosted S3 URL pattern once a bucket and key follow it (see above).
ENDPOINT_PATH = "/stand-in.s3.amazonaws.com"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _service_and_region(environ: dict[str, Any]) -> tuple[str, str]:
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    match = _SCOPE.search(authorization) or _SCOPE.search(environ.get("QUERY_STRING", "").replace("%2F", "/"))
    return (match.group(2), match.group(1)) if match else ("unknown", "unknown")


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.replace("_", "-").lower()
        else:
            continue
        if _RECORDED_HEADERS.match(name) and value:
            headers[name] = value
    return headers


def _body_summary(body: bytes, headers: dict[str, str], service: str) -> Any:
    content_type = headers.get("content-type", "")
    if not body:
        return None
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    if "json" in content_type or service == "signer":
        try:
            return json.loads(body)
        except ValueError:
            pass
    return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


class SignerStandIn:
    """StartSigningJob and DescribeSigningJob, writing the "signed" copy through the endpoint itself."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.endpoint = ""
        self._lock = threading.Lock()

    def _s3(self, region: str) -> Any:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id="ASIASIGNERSTANDIN",
            aws_secret_access_key="signer-stand-in",  # noqa: S106 - a local stand-in's fixed credentials
            config=Config(s3={"addressing_style": "path"}),
        )
        client.meta.events.register("before-sign.s3.*", _mark_on_behalf_of_signer)
        return client

    def __call__(self, environ: dict[str, Any], body: bytes, region: str) -> tuple[str, dict[str, Any]]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method == "POST" and path == "/signing-jobs":
            request = json.loads(body)
            source, destination = request["source"]["s3"], request["destination"]["s3"]
            job_id = str(uuid.uuid4())
            s3 = self._s3(region)
            original = s3.get_object(Bucket=source["bucketName"], Key=source["key"], VersionId=source["version"])
            signed_key = f"{destination.get('prefix', '')}{job_id}.zip"
            s3.put_object(Bucket=destination["bucketName"], Key=signed_key, Body=original["Body"].read())
            with self._lock:
                self.jobs[job_id] = {
                    "jobId": job_id,
                    "status": "Succeeded",
                    "profileName": request["profileName"],
                    "source": request["source"],
                    "signedObject": {"s3": {"bucketName": destination["bucketName"], "key": signed_key}},
                }
            return "200 OK", {"jobId": job_id, "jobOwner": "123456789012"}
        match = re.fullmatch(r"/signing-jobs/([^/]+)", path)
        if method == "GET" and match and match.group(1) in self.jobs:
            return "200 OK", self.jobs[match.group(1)]
        return "404 Not Found", {"message": f"the Signer stand-in does not serve {method} {path}"}


_CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def _xml(action: str, result: str) -> str:
    return (
        f'<{action}Response xmlns="{_CFN_NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
    )


class CloudFormationStandIn:
    """DescribeStacks, CreateChangeSet, DescribeChangeSet, ExecuteChangeSet, DescribeStackEvents.

    A change set is created complete and executes at once, successfully: what the deploy path
    asks for is recorded; what CloudFormation would then build is not modelled at all.
    """

    def __init__(self) -> None:
        self.stacks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, form: dict[str, str], region: str) -> tuple[str, str]:
        action = form.get("Action", "")
        handler = getattr(self, f"_{action}", None)
        if handler is None:
            return "400 Bad Request", self._error(
                "InvalidAction", f"the CloudFormation stand-in does not serve {action}"
            )
        with self._lock:
            status, result = handler(form, region)
        return status, result if status != "200 OK" else _xml(action, result)

    @staticmethod
    def _error(code: str, message: str) -> str:
        return (
            f'<ErrorResponse xmlns="{_CFN_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )

    def _stack(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.stacks.values() if name in (s["name"], s["id"])), None)

    def _DescribeStacks(self, form: dict[str, str], region: str) -> tuple[str, str]:
        stack = self._stack(form.get("StackName", ""))
        if stack is None:
            return "400 Bad Request", self._error(
                "ValidationError", f"Stack with id {form.get('StackName')} does not exist"
            )
        return "200 OK", (
            f"<Stacks><member><StackName>{stack['name']}</StackName><StackId>{stack['id']}</StackId>"
            f"<StackStatus>{stack['status']}</StackStatus><CreationTime>{stack['created']}</CreationTime>"
            "<Outputs/></member></Stacks>"
        )

    def _CreateChangeSet(self, form: dict[str, str], region: str) -> tuple[str, str]:
        name = form["StackName"]
        stack = self._stack(name)
        if stack is None:
            stack_id = f"arn:aws:cloudformation:{region}:123456789012:stack/{name}/{uuid.uuid4()}"
            # CloudFormation creates a new stack in REVIEW_IN_PROGRESS, with that event.
            review = {"id": str(uuid.uuid4()), "status": "REVIEW_IN_PROGRESS", "time": _now()}
            stack = {
                "name": name,
                "id": stack_id,
                "status": "REVIEW_IN_PROGRESS",
                "created": _now(),
                "events": [review],
            }
            self.stacks[stack_id] = stack
        change_set_id = f"arn:aws:cloudformation:{region}:123456789012:changeSet/{form['ChangeSetName']}/{uuid.uuid4()}"
        stack["change_set"] = {
            "id": change_set_id,
            "name": form["ChangeSetName"],
            "type": form.get("ChangeSetType", "UPDATE"),
        }
        return "200 OK", f"<Id>{change_set_id}</Id><StackId>{stack['id']}</StackId>"

    def _DescribeChangeSet(self, form: dict[str, str], region: str) -> tuple[str, str]:
        stack = self._stack(form.get("StackName", "")) or next(
            (s for s in self.stacks.values() if s.get("change_set", {}).get("id") == form["ChangeSetName"]), None
        )
        if stack is None or "change_set" not in stack:
            return "400 Bad Request", self._error(
                "ChangeSetNotFound", f"ChangeSet {form['ChangeSetName']} does not exist"
            )
        change_set = stack["change_set"]
        return "200 OK", (
            f"<ChangeSetName>{change_set['name']}</ChangeSetName><ChangeSetId>{change_set['id']}</ChangeSetId>"
            f"<StackId>{stack['id']}</StackId><StackName>{stack['name']}</StackName>"
            "<Status>CREATE_COMPLETE</Status><ExecutionStatus>AVAILABLE</ExecutionStatus><Changes/>"
        )

    def _ExecuteChangeSet(self, form: dict[str, str], region: str) -> tuple[str, str]:
        stack = self._stack(form.get("StackName", "")) or next(
            (s for s in self.stacks.values() if s.get("change_set", {}).get("id") == form["ChangeSetName"]), None
        )
        if stack is None:
            return "400 Bad Request", self._error(
                "ChangeSetNotFound", f"ChangeSet {form['ChangeSetName']} does not exist"
            )
        stack["status"] = "CREATE_COMPLETE" if stack["change_set"]["type"] == "CREATE" else "UPDATE_COMPLETE"
        stack["events"].insert(0, {"id": str(uuid.uuid4()), "status": stack["status"], "time": _now(later=True)})
        return "200 OK", ""

    def _DescribeStackEvents(self, form: dict[str, str], region: str) -> tuple[str, str]:
        stack = self._stack(form.get("StackName", ""))
        if stack is None:
            return "400 Bad Request", self._error("ValidationError", f"Stack {form.get('StackName')} does not exist")
        members = "".join(
            f"<member><StackId>{stack['id']}</StackId><EventId>{event['id']}</EventId>"
            f"<StackName>{stack['name']}</StackName><LogicalResourceId>{stack['name']}</LogicalResourceId>"
            f"<PhysicalResourceId>{stack['id']}</PhysicalResourceId><ResourceType>AWS::CloudFormation::Stack</ResourceType>"
            f"<Timestamp>{event['time']}</Timestamp><ResourceStatus>{event['status']}</ResourceStatus></member>"
            for event in stack["events"]
        )
        return "200 OK", f"<StackEvents>{members}</StackEvents>"


def _now(*, later: bool = False) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=1 if later else 0)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mark_on_behalf_of_signer(request: Any, **_: Any) -> None:
    request.headers[ON_BEHALF_HEADER] = "signer.amazonaws.com"


class RecordingApplication:
    """WSGI: record the request, then let the Signer stand-in or moto answer it."""

    def __init__(self, backend: WsgiApp, record: Path) -> None:
        self.backend = backend
        self.record = record
        self.signer = SignerStandIn()
        self.cloudformation = CloudFormationStandIn()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        path = environ.get("PATH_INFO", "")
        if path == ENDPOINT_PATH or path.startswith(ENDPOINT_PATH + "/"):
            environ["PATH_INFO"] = path.removeprefix(ENDPOINT_PATH) or "/"
        environ["wsgi.input"] = io.BytesIO(body)
        service, region = _service_and_region(environ)
        headers = _headers(environ)
        entry = {
            "service": service,
            "region": region,
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body": _body_summary(body, headers, service),
            "on_behalf_of": environ.get("HTTP_" + ON_BEHALF_HEADER.upper().replace("-", "_")),
        }
        with self._lock, self.record.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, sort_keys=True) + "\n")
        if service == "signer":
            status, payload = self.signer(environ, body, region)
            data = json.dumps(payload).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        if service == "cloudformation":
            status, xml = self.cloudformation(dict(parse_qsl(body.decode(), keep_blank_values=True)), region)
            data = xml.encode()
            start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
            return [data]
        return self.backend(environ, start_response)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", type=Path, required=True, help="JSON-lines file the calls are appended to")
    parser.add_argument("--bucket", action="append", default=[], help="create this versioned bucket first")
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args(argv)

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    args.record.parent.mkdir(parents=True, exist_ok=True)
    application = RecordingApplication(DomainDispatcherApplication(create_backend_app), args.record)
    server = make_server("127.0.0.1", 0, application, threaded=True)
    endpoint = f"http://localhost:{server.server_port}{ENDPOINT_PATH}"
    application.signer.endpoint = endpoint
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for bucket in args.bucket:
        s3 = application.signer._s3(args.region)  # set-up, not a call of the deploy path
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": args.region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    args.record.write_text("", encoding="utf-8")  # the set-up calls above are not the deploy path's
    print(endpoint, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
