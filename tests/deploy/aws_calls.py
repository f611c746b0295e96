"""From a recorded AWS call to the IAM requests it makes: which actions, on which ARNs, with which context.

The recording stand-in (tools/deploy/recording_endpoint.py) writes what was sent; botocore's
own service models (the ones the SAM CLI's calls were serialized from) say which operation a
request is, by protocol: the ``Action`` field of the query protocol, or the HTTP method, URI
template and required query or header members of the REST protocols.

``iam_requests`` then says what IAM evaluates for that operation, from the Service
Authorization Reference and the services' guides:

* S3: HeadObject and GetObject need s3:GetObject (s3:GetObjectVersion with a version id);
  PutObject and multipart uploads s3:PutObject, with the request's encryption headers as
  ``s3:x-amz-server-side-encryption*`` condition keys; an object encrypted with a KMS key makes
  S3 call KMS with the caller's permissions (GenerateDataKey to write, Decrypt to read,
  kms:ViaService = s3.<region>.amazonaws.com); GetObjectTagging needs s3:GetObjectTagging
  (s3:GetObjectVersionTagging with a version id).
* CloudFormation: every action on the stack's ARN; CreateChangeSet carries its role
  (``cloudformation:RoleArn``, and iam:PassRole of it to CloudFormation), its tags
  (``aws:RequestTag/*``, ``aws:TagKeys``), the transform the template declares (authorized on the
  transform's ARN) and the read of its TemplateURL, made with the caller's credentials.
* Nested stacks (``nested_stack_requests``): what CloudFormation then does for each nested stack
  of the root template, with the stack's service role ("When you specify a service role,
  CloudFormation always uses that role for all operations that are performed on that stack",
  CloudFormation user guide, service role): CreateStack of ``<root>-<logical id>-<suffix>``,
  iam:PassRole of the service role to CloudFormation (the nested stack runs as the same role),
  and the read of the nested TemplateURL (s3:GetObject, and kms:Decrypt through S3 for an object
  encrypted with the artifacts key).
* AWS Signer: StartSigningJob on the profile's ARN, DescribeSigningJob on the job's; the
  signing job then reads and writes S3 on the caller's behalf (recorded as such).

An operation not in this table raises, naming itself: a new call of the deploy path must be
modelled before it can be judged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from tools.deploy.recording_endpoint import ENDPOINT_PATH

__all__ = [
    "IamRequest",
    "RecordedCall",
    "iam_requests",
    "nested_stack_requests",
    "operation_of",
    "read_recording",
    "s3_object",
]


@dataclass(frozen=True)
class RecordedCall:
    service: str
    region: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    on_behalf_of: str | None

    @property
    def form(self) -> dict[str, str]:
        return self.body if isinstance(self.body, dict) else {}


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    call: str = ""


def read_recording(path: Path) -> list[RecordedCall]:
    calls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        calls.append(
            RecordedCall(
                service=entry["service"],
                region=entry["region"],
                method=entry["method"],
                path=unquote(entry["path"]),
                query=parse_qs(entry["query"], keep_blank_values=True),
                headers=entry["headers"],
                body=entry["body"],
                on_behalf_of=entry.get("on_behalf_of"),
            )
        )
    return calls


@cache
def _service_model(service: str) -> Any:
    import botocore.loaders
    import botocore.model

    loader = botocore.loaders.create_loader()
    return botocore.model.ServiceModel(loader.load_service_model(service, "service-2"), service)


def _uri_pattern(request_uri: str) -> tuple[re.Pattern[str], set[str]]:
    path, _, literal_query = request_uri.partition("?")
    regex = re.sub(r"\\\{([A-Za-z]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
    regex = re.sub(r"\\\{([A-Za-z]+)\\\}", r"(?P<\1>[^/]+)", regex)
    keys = {part.split("=")[0] for part in literal_query.split("&") if part and not part.startswith("x-id")}
    return re.compile(f"^{regex}$"), keys


def operation_of(call: RecordedCall) -> tuple[str, dict[str, str]]:
    """The operation's name and its URI members (Bucket, Key, jobId...) for one recorded request."""
    model = _service_model(call.service)
    if model.protocol == "query":
        return call.form["Action"], {}
    candidates = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        if operation.http["method"] != call.method:
            continue
        pattern, literal_keys = _uri_pattern(operation.http["requestUri"])
        match = pattern.match(call.path)
        if match is None or not literal_keys <= set(call.query):
            continue
        members = operation.input_shape.members if operation.input_shape else {}
        required = operation.input_shape.required_members if operation.input_shape else []
        required_query = {
            members[m].serialization.get("name", m)
            for m in required
            if members[m].serialization.get("location") == "querystring"
        }
        required_headers = {
            members[m].serialization.get("name", m).lower()
            for m in required
            if members[m].serialization.get("location") == "header"
        }
        if not required_query <= set(call.query) or not required_headers <= set(call.headers):
            continue
        candidates.append((len(literal_keys) + len(required_query) + len(required_headers), name, match.groupdict()))
    if not candidates:
        raise AssertionError(f"no {call.service} operation matches {call.method} {call.path}?{call.query}")
    candidates.sort(reverse=True)
    _, name, members = candidates[0]
    return name, members


def _context(call: RecordedCall) -> dict[str, Any]:
    context: dict[str, Any] = {"aws:SecureTransport": "true"}  # the pipelines call AWS over TLS
    if call.on_behalf_of:
        context |= {"aws:CalledVia": [call.on_behalf_of], "aws:ViaAWSService": "true"}
    return context


def _s3(
    call: RecordedCall, operation: str, members: dict[str, str], default_key: str, account: str
) -> list[IamRequest]:
    bucket, key = members.get("Bucket", ""), members.get("Key", "")
    obj = f"arn:aws:s3:::{bucket}/{key}"
    context = _context(call)
    via_s3 = {**context, "kms:ViaService": f"s3.{call.region}.amazonaws.com", "kms:CallerAccount": account}
    versioned = "versionId" in call.query
    label = f"s3 {operation} {bucket}/{key}"
    if operation in ("HeadObject", "GetObject"):
        requests = [IamRequest("s3:GetObjectVersion" if versioned else "s3:GetObject", obj, context, label)]
        if operation == "GetObject":
            requests.append(IamRequest("kms:Decrypt", default_key, via_s3, label))
        return requests
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        sse = {f"s3:{h}": v for h, v in call.headers.items() if h.startswith("x-amz-server-side-encryption")}
        requests = [IamRequest("s3:PutObject", obj, {**context, **sse}, label)]
        algorithm = call.headers.get("x-amz-server-side-encryption")
        if algorithm in (None, "aws:kms") and operation in ("PutObject", "CreateMultipartUpload"):
            key_arn = call.headers.get("x-amz-server-side-encryption-aws-kms-key-id", default_key)
            requests.append(IamRequest("kms:GenerateDataKey", key_arn, via_s3, label))
        if operation == "CompleteMultipartUpload":
            requests.append(IamRequest("kms:Decrypt", default_key, via_s3, label))
        return requests
    if operation == "GetObjectTagging":
        return [IamRequest("s3:GetObjectVersionTagging" if versioned else "s3:GetObjectTagging", obj, context, label)]
    if operation in ("ListObjects", "ListObjectsV2", "HeadBucket"):
        prefix = call.query.get("prefix", [""])[0]
        return [IamRequest("s3:ListBucket", f"arn:aws:s3:::{bucket}", {**context, "s3:prefix": prefix}, label)]
    if operation == "GetBucketLocation":
        return [IamRequest("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}", context, label)]
    raise AssertionError(f"{label}: teach tests/deploy/aws_calls.py which IAM requests {operation} makes")


# The URL forms the SAM CLI writes for an uploaded object: path-style (``to_path_style_s3_url``:
# the endpoint, then bucket and key; the recording stand-in's endpoint ends in a path shaped like an
# S3 host name, tools/deploy/recording_endpoint.py), and ``s3://bucket/key``.
_S3_ENDPOINT = r"s3(?:[.-][^/]*)?\.amazonaws\.com(?:\.cn)?"
_PATH_STYLE_URL = re.compile(
    rf"^https?://(?:{_S3_ENDPOINT}|[^/]+{re.escape(ENDPOINT_PATH)})/(?P<bucket>[^/?]+)/(?P<key>[^?]+)"
)
_S3_PROTOCOL_URL = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>[^?]+)")
_VIA_CLOUDFORMATION = {"aws:CalledVia": ["cloudformation.amazonaws.com"], "aws:ViaAWSService": "true"}


def s3_object(url: str) -> tuple[str, str, str | None]:
    """(bucket, key, version ID or None) of a path-style S3 URL or an ``s3://`` URL; ValueError otherwise."""
    match = _PATH_STYLE_URL.match(url) or _S3_PROTOCOL_URL.match(url)
    if match is None:
        raise ValueError(f"not an S3 object URL the SAM CLI writes: {url}")
    version = parse_qs(url.partition("?")[2]).get("versionId", [None])[0]
    return match["bucket"], unquote(match["key"]), version


def _template_read(url: str, region: str, default_key: str, context: dict[str, Any], label: str) -> list[IamRequest]:
    """What reading a template from S3 asks IAM: the object (or its version), and the artifacts key through S3."""
    bucket, key, version = s3_object(url)
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    via_s3 = {**context, "kms:ViaService": f"s3.{region}.amazonaws.com"}
    return [
        IamRequest(action, f"arn:aws:s3:::{bucket}/{key}", context, label),
        IamRequest("kms:Decrypt", default_key, via_s3, label),
    ]


def _stack_arn(name: str, region: str, account: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


def _cloudformation(
    call: RecordedCall, operation: str, account: str, templates: dict[str, Any], default_key: str
) -> list[IamRequest]:
    form, context = call.form, _context(call)
    stack_name = form.get("StackName", "")
    stack = _stack_arn(stack_name, call.region, account)
    label = f"cloudformation {operation} {stack_name}"
    stack_actions = (
        "DescribeStacks",
        "DescribeStackEvents",
        "DescribeChangeSet",
        "ExecuteChangeSet",
        "DeleteChangeSet",
        "GetTemplate",
        "GetTemplateSummary",
        "ListChangeSets",
        "DescribeStackResources",
        "ListStackResources",
    )
    if operation in stack_actions and stack_name:
        change_set = {"cloudformation:ChangeSetName": form["ChangeSetName"]} if "ChangeSetName" in form else {}
        return [IamRequest(f"cloudformation:{operation}", stack, {**context, **change_set}, label)]
    if operation != "CreateChangeSet":
        raise AssertionError(f"{label}: teach tests/deploy/aws_calls.py which IAM requests {operation} makes")
    tags = {form[k]: form[k.replace(".Key", ".Value")] for k in form if re.fullmatch(r"Tags\.member\.\d+\.Key", k)}
    create = {
        **context,
        **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
        "aws:TagKeys": sorted(tags),
        "cloudformation:ChangeSetName": form["ChangeSetName"],
    }
    if "RoleARN" in form:
        create["cloudformation:RoleArn"] = form["RoleARN"]
    if "TemplateURL" in form:
        create["cloudformation:TemplateUrl"] = form["TemplateURL"]
    requests = [IamRequest("cloudformation:CreateChangeSet", stack, create, label)]
    if "RoleARN" in form:
        requests.append(
            IamRequest(
                "iam:PassRole",
                form["RoleARN"],
                {**context, "iam:PassedToService": "cloudformation.amazonaws.com"},
                label,
            )
        )
    template = templates.get(form.get("TemplateURL", ""), {})
    transforms = template.get("Transform", [])
    for transform in transforms if isinstance(transforms, list) else [transforms]:
        arn = f"arn:aws:cloudformation:{call.region}:aws:transform/{transform.split('::')[-1]}"
        requests.append(IamRequest("cloudformation:CreateChangeSet", arn, context, f"{label} (transform {transform})"))
    if "TemplateURL" in form:
        requests += _template_read(
            form["TemplateURL"], call.region, default_key, context | _VIA_CLOUDFORMATION, f"{label} reads its template"
        )
    return requests


_NESTED_STACK_TYPES = {"AWS::CloudFormation::Stack": "TemplateURL", "AWS::Serverless::Application": "Location"}


def nested_stack_requests(
    packaged: dict[str, Any], *, stack_name: str, role_arn: str, region: str, account: str, artifacts_key: str
) -> list[IamRequest]:
    """What the service role ``role_arn`` is asked while CloudFormation creates the nested stacks of ``packaged``.

    ``packaged`` is a root template as ``sam package`` wrote it (nested locations are S3 URLs);
    its nested stacks are named as CloudFormation names them, ``<stack_name>-<logical id>-<suffix>``.
    """
    context = {"aws:SecureTransport": "true", **_VIA_CLOUDFORMATION}
    requests = []
    for logical_id, resource in sorted(packaged.get("Resources", {}).items()):
        location_property = _NESTED_STACK_TYPES.get(resource.get("Type", ""))
        if location_property is None:
            continue
        url = resource["Properties"][location_property]
        nested = f"{stack_name}-{logical_id}-1A2B3C4D5E6F7"
        label = f"nested stack {logical_id}"
        requests += [
            IamRequest("cloudformation:CreateStack", _stack_arn(nested, region, account), context, label),
            IamRequest(
                "iam:PassRole", role_arn, {**context, "iam:PassedToService": "cloudformation.amazonaws.com"}, label
            ),
            *_template_read(url, region, artifacts_key, context, f"{label} reads its template"),
        ]
    return requests


def _signer(call: RecordedCall, operation: str, members: dict[str, str], account: str) -> list[IamRequest]:
    context = _context(call)
    if operation == "StartSigningJob":
        profile = call.body["profileName"]
        arn = f"arn:aws:signer:{call.region}:{account}:/signing-profiles/{profile}"
        return [IamRequest("signer:StartSigningJob", arn, context, f"signer StartSigningJob {profile}")]
    if operation == "DescribeSigningJob":
        arn = f"arn:aws:signer:{call.region}:{account}:/signing-jobs/{members['jobId']}"
        return [IamRequest("signer:DescribeSigningJob", arn, context, f"signer DescribeSigningJob {members['jobId']}")]
    raise AssertionError(f"signer {operation}: teach tests/deploy/aws_calls.py which IAM requests it makes")


def iam_requests(
    call: RecordedCall, *, account: str, artifacts_key: str, templates: dict[str, Any] | None = None
) -> list[IamRequest]:
    """What IAM evaluates for one recorded call made in ``account`` (artifacts encrypted with ``artifacts_key``)."""
    operation, members = operation_of(call)
    if call.service == "s3":
        return _s3(call, operation, members, artifacts_key, account)
    if call.service == "cloudformation":
        return _cloudformation(call, operation, account, templates or {}, artifacts_key)
    if call.service == "signer":
        return _signer(call, operation, members, account)
    raise AssertionError(f"{call.service} {operation}: teach tests/deploy/aws_calls.py about {call.service}")
