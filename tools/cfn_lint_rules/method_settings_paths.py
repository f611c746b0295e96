"""E9115: a stage's per-method settings name methods the API has, with the path encoded as API Gateway wants.

AWS::ApiGateway::Stage MethodSetting.ResourcePath: "Forward slashes (/) are encoded as ~1 and the
initial slash must include a forward slash. For example, the path value /resource/subresource
must be encoded as /~1resource~1subresource. To specify the root path, use only a slash (/)."
API Gateway applies each setting with UpdateStage patch operations on
``/{resource path}/{http method}/...``, and refuses a path that names no method of the deployed
API ("Invalid method setting path"), failing the deploy; the schema sees only strings. Checked
against the RestApi's OpenAPI Body (the translation) and, in a SAM template, against the events
of the functions that attach to the AWS::Serverless::Api.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

ANY = "x-amazon-apigateway-any-method"


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) and isinstance(value.get("Ref"), str) else None


def _openapi_methods(api: dict[str, Any]) -> dict[str, set[str]] | None:
    body = (api.get("Properties") or {}).get("Body")
    paths = body.get("paths") if isinstance(body, dict) else None
    if not isinstance(paths, dict):
        return None
    return {
        path: {m.upper() if m != ANY else "*" for m in item} for path, item in paths.items() if isinstance(item, dict)
    }


def _sam_methods(cfn: Any, api_name: str) -> dict[str, set[str]]:
    methods: dict[str, set[str]] = {}
    for function in cfn.get_resources(["AWS::Serverless::Function"]).values():
        for event in ((function.get("Properties") or {}).get("Events") or {}).values():
            properties = (event or {}).get("Properties") or {}
            if (event or {}).get("Type") == "Api" and _ref(properties.get("RestApiId")) == api_name:
                method = str(properties.get("Method", "")).upper()
                methods.setdefault(str(properties.get("Path")), set()).add("*" if method == "ANY" else method)
    return methods


def _problem(setting: Any, methods: dict[str, set[str]]) -> str | None:
    if not isinstance(setting, dict):
        return None
    resource_path, http_method = setting.get("ResourcePath"), setting.get("HttpMethod")
    if not isinstance(resource_path, str) or not isinstance(http_method, str):
        return None
    if resource_path == "/*" and http_method == "*":
        return None
    if resource_path != "/" and ("/" in resource_path[1:] or not resource_path.startswith("/~1")):
        return f"ResourcePath {resource_path!r} is not encoded: write /~1a~1b for /a/b (and / for the root)"
    path = "/" if resource_path == "/" else resource_path[1:].replace("~1", "/")
    if path not in methods:
        return f"ResourcePath {resource_path!r} ({path}) is no resource of the API"
    if http_method != "*" and http_method.upper() not in methods[path] and "*" not in methods[path]:
        return f"{http_method} {path} is no method of the API (it has {sorted(methods[path])})"
    return None


class MethodSettingsPaths(CloudFormationLintRule):
    id = "E9115"
    shortdesc = "Stage method settings name methods of the API"
    description = "Each MethodSettings entry names a resource path (encoded with ~1) and a method the API has"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-apigateway-stage-methodsetting.html"
    tags: ClassVar[list[str]] = ["resources", "apigateway", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.template.get("Resources") or {}
        matches = []
        for name, resource in cfn.get_resources(["AWS::ApiGateway::Stage", "AWS::Serverless::Api"]).items():
            properties = resource.get("Properties") or {}
            if resource.get("Type") == "AWS::Serverless::Api":
                methods: dict[str, set[str]] | None = _sam_methods(cfn, name)
            else:
                methods = _openapi_methods(resources.get(_ref(properties.get("RestApiId")) or "", {}))
            if methods is None:
                continue  # an API defined elsewhere, or without a Body: nothing to compare with
            for index, setting in enumerate(properties.get("MethodSettings") or []):
                problem = _problem(setting, methods)
                if problem:
                    matches.append(
                        RuleMatch(["Resources", name, "Properties", "MethodSettings", index], f"{name}: {problem}")
                    )
        return matches
