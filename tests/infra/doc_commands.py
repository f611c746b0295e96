"""The shell commands a Markdown document tells its reader to run, checked without running them.

``problems(path)`` reads every ```bash block of a document, joins continued lines, splits each
line into commands (``;``, ``&&``, ``||``, ``|`` and ``$(...)`` substitutions count as separate
commands) and checks each against what it names:

* ``make <target> [VAR=value ...]``: the target exists in the Makefile and each variable is one
  the Makefile reads (``$(VAR)``); in a ```bash block, every variable the target's recipe guards
  (``test -n "$(VAR)"``; ``[ "$(ENV)" = prod ] && [ -z "$(VAR)" ]`` when ENV is prod;
  ``[ -n "$(A)" ] && [ -z "$(VAR)" ]`` when A is given) is given on the line, exported earlier in
  the document (``export VAR=...``), or has a Makefile default;
* ``aws <service> <operation> --option ...``: the service and the operation exist in botocore's
  models (the AWS CLI is generated from them), each option is a member of the operation's input
  (``--no-<flag>`` for a boolean) or a global or paging option of the CLI;
  ``aws cloudformation deploy|package`` are the CLI's own commands: their documented options, and
  ``deploy --template-file`` of a template over 51,200 bytes needs ``--s3-bucket`` (CloudFormation's
  TemplateBody limit);
* ``.venv/bin/mvdb ...``: the project CLI's own parser accepts the arguments;
* inline code spans that start with ``make``, ``aws``, ``git`` or ``.venv/bin/mvdb`` too;
* a short list of ordinary commands (``export``, ``curl``, ``python3`` ...) and shell functions
  the document defines itself.

Anything else is reported, so a document cannot teach a command nobody checked. Placeholders in
``<angle brackets>`` stand for values. Point it at any document: docs/deploy.md and
docs/operations.md are checked by tests/infra/test_docs.py; docs/cicd.md can be too.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Problem", "commands", "problems"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_BODY_LIMIT = 51_200  # bytes; larger templates must come from S3 (CloudFormation quotas)
CLI_SERVICES = {"deploy": "codedeploy", "s3api": "s3", "configservice": "config"}
GLOBAL_OPTIONS = {
    "--query", "--output", "--region", "--profile", "--endpoint-url", "--no-cli-pager", "--debug",
    "--no-verify-ssl", "--no-paginate", "--cli-input-json", "--cli-input-yaml", "--color",
    "--max-items", "--starting-token", "--page-size", "--cli-read-timeout", "--cli-connect-timeout",
}  # fmt: skip
CLI_COMMANDS = {  # the AWS CLI's own (customized) commands and their options
    ("cloudformation", "deploy"): {
        "--template-file", "--stack-name", "--s3-bucket", "--s3-prefix", "--kms-key-id", "--force-upload",
        "--use-json", "--no-execute-changeset", "--role-arn", "--notification-arns", "--fail-on-empty-changeset",
        "--no-fail-on-empty-changeset", "--parameter-overrides", "--capabilities", "--tags", "--disable-rollback",
    },
    ("cloudformation", "package"): {
        "--template-file", "--s3-bucket", "--s3-prefix", "--kms-key-id", "--output-template-file", "--use-json",
        "--force-upload", "--metadata",
    },
}  # fmt: skip
ORDINARY = {"export", "curl", "python3", "echo", "cd", "git", "cat", "jq", "sha256sum", "unset", "read"}
_OPERATORS = {";", "&&", "||", "|", "(", ")", "{", "}"}
_PLACEHOLDER = re.compile(r"<[^<>\n]+>")


@dataclass(frozen=True)
class Problem:
    document: str
    line: int
    command: str
    message: str

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.command!r}: {self.message}"


_INLINE = re.compile(r"`((?:make|aws|git|\.venv/bin/mvdb) [^`]+)`")


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, logical line) of every line of every ```bash block, continuations joined,
    then every inline code span that starts with a command (``make ...``, ``aws ...``)."""
    yield from _block_lines(text)
    for number, line in enumerate(text.splitlines(), start=1):
        for span in _INLINE.findall(line):
            yield number, span


def _block_lines(text: str) -> Iterator[tuple[int, str]]:
    in_block, pending, start = False, "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_block = stripped in ("```bash", "```sh", "```shell") if not in_block else False
            continue
        if not in_block:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical, pending = pending + stripped, ""
        if logical and not logical.startswith("#"):
            yield start, logical


def _substitutions(line: str) -> tuple[str, list[str]]:
    """``line`` with each ``$(...)`` replaced by a placeholder word, and the substituted commands."""
    inner: list[str] = []
    out, index = [], 0
    while index < len(line):
        if line.startswith("$(", index):
            depth, end = 1, index + 2
            while end < len(line) and depth:
                depth += {"(": 1, ")": -1}.get(line[end], 0)
                end += 1
            body = line[index + 2 : end - 1]
            rest, nested = _substitutions(body)
            inner += [rest, *nested]
            out.append("SUBSTITUTED")
            index = end
        else:
            out.append(line[index])
            index += 1
    return "".join(out), inner


def commands(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, words) of every simple command in the document's bash blocks."""
    for number, line in _blocks(text):
        flat, nested = _substitutions(_PLACEHOLDER.sub("PLACEHOLDER", line))
        for source in (flat, *nested):
            lexer = shlex.shlex(source, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words: list[str] = []
            for token in lexer:
                if token in _OPERATORS or set(token) <= {"&", "|", ";", "(", ")"}:
                    if words:
                        yield number, words
                    words = []
                else:
                    words.append(token)
            if words:
                yield number, words


@cache
def _makefile() -> tuple[frozenset[str], frozenset[str]]:
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    targets = frozenset(re.findall(r"^([A-Za-z][\w.-]*):", text, flags=re.MULTILINE))
    variables = frozenset(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", text))
    return targets, variables


@dataclass(frozen=True)
class Guard:
    """A recipe line that stops its target unless ``variable`` is set; ``when`` = (VAR, value) or (VAR, None: set)."""

    variable: str
    when: tuple[str, str | None] | None = None


_ALWAYS = re.compile(r'test -n "\$\(([A-Z][A-Z0-9_]*)\)"')
_WHEN_EQUALS = re.compile(r'\[ "\$\(([A-Z][A-Z0-9_]*)\)" = "?(\w+)"? \] && \[ -z "\$\(([A-Z][A-Z0-9_]*)\)" \]')
_WHEN_SET = re.compile(r'\[ -n "\$\(([A-Z][A-Z0-9_]*)\)" \] && \[ -z "\$\(([A-Z][A-Z0-9_]*)\)" \]')


@cache
def _guards(makefile: str = "Makefile") -> dict[str, tuple[Guard, ...]]:
    """Target -> the variables its recipe refuses to run without (the Makefile's own guards)."""
    guards: dict[str, list[Guard]] = {}
    target = None
    for line in (PROJECT_ROOT / makefile).read_text(encoding="utf-8").splitlines():
        header = re.match(r"^([A-Za-z][\w.-]*):(?!=)", line)
        if header:
            target = header.group(1)
            guards.setdefault(target, [])
            continue
        if target is None or not line.startswith("\t"):
            target = None if line and not line.startswith(("\t", "#")) else target
            continue
        guards[target] += [Guard(v) for v in _ALWAYS.findall(line)]
        guards[target] += [Guard(v, (when, value)) for when, value, v in _WHEN_EQUALS.findall(line)]
        guards[target] += [Guard(v, (when, None)) for when, v in _WHEN_SET.findall(line)]
    return {name: tuple(found) for name, found in guards.items()}


@cache
def _makefile_defaults() -> dict[str, str]:
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*) *(?:\?=|:=|=) *(.*)$", text, flags=re.MULTILINE))


def _unguarded(arguments: list[str], exported: set[str]) -> str | None:
    """The first guard of a documented ``make`` command that its variables do not satisfy."""
    given = dict(a.split("=", 1) for a in arguments if "=" in a)
    defaults = _makefile_defaults()
    present = set(given) | exported | set(defaults)
    guards = _guards()
    for target in (a for a in arguments if "=" not in a):
        for guard in guards.get(target, ()):
            if guard.when is not None:
                name, value = guard.when
                actual = given.get(name, defaults.get(name) if name not in exported else None)
                applies = name in present if value is None else actual == value
                if not applies:
                    continue
            if guard.variable not in present:
                condition = ""
                if guard.when is not None:
                    name, value = guard.when
                    condition = f" when {name}={value}" if value else f" when {name} is set"
                return f"make {target} refuses to run without {guard.variable}{condition} (its recipe's guard)"
    return None


@cache
def _operation_options(service: str, operation: str) -> frozenset[str] | None:
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    if service not in session.get_available_services():
        return None
    model = session.get_service_model(service)
    names = {xform_name(name).replace("_", "-"): name for name in model.operation_names}
    if operation not in names:
        return None
    shape = model.operation_model(names[operation]).input_shape
    options: set[str] = set()
    for member, member_shape in shape.members.items() if shape else []:
        option = "--" + xform_name(member).replace("_", "-")
        options.add(option)
        if member_shape.type_name == "boolean":
            options.add("--no-" + option[2:])
    return frozenset(options)


def _check(words: list[str], functions: set[str], exported: set[str] | None = None) -> str | None:
    program, arguments = words[0], words[1:]
    while program and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", program):  # VAR=value command ...
        if not arguments:
            return None  # an assignment
        program, arguments = arguments[0], arguments[1:]
    if program in functions or program in ORDINARY:
        return None
    if program == "make":
        targets, variables = _makefile()
        for argument in arguments:
            if "=" in argument:
                name = argument.split("=", 1)[0]
                if name not in variables:
                    return f"the Makefile reads no variable {name}"
            elif argument not in targets:
                return f"the Makefile has no target {argument}"
        return None if exported is None else _unguarded(arguments, exported)
    if program == "aws":
        return _check_aws(arguments)
    if program == ".venv/bin/mvdb":
        from mvdb.cli import build_parser

        try:
            build_parser().parse_args(arguments)
        except SystemExit:
            return "the mvdb CLI refuses these arguments"
        return None
    return f"{program} is not a command this checker knows; teach it, or run the command in a test"


def _check_aws(arguments: list[str]) -> str | None:
    if len(arguments) < 2:
        return "aws needs a service and an operation"
    service, operation = CLI_SERVICES.get(arguments[0], arguments[0]), arguments[1]
    options = [a for a in arguments[2:] if a.startswith("--")]
    known = CLI_COMMANDS.get((service, operation))
    if known is None:
        model_options = _operation_options(service, operation)
        if model_options is None:
            return f"botocore has no operation {arguments[0]} {operation}"
        known = set(model_options)
    unknown = sorted(set(options) - known - GLOBAL_OPTIONS)
    if unknown:
        return f"aws {arguments[0]} {operation} has no option {', '.join(unknown)}"
    if (service, operation) == ("cloudformation", "deploy") and "--s3-bucket" not in options:
        at = arguments.index("--template-file") + 1 if "--template-file" in arguments else len(arguments)
        template = arguments[at] if at < len(arguments) else None
        path = PROJECT_ROOT / template if template else None
        if path and not path.is_file():
            return f"{template} does not exist"
        if path and path.stat().st_size > TEMPLATE_BODY_LIMIT:
            size = path.stat().st_size
            return f"{template} is {size} bytes: over {TEMPLATE_BODY_LIMIT} it must come from S3 (--s3-bucket)"
    return None


def problems(path: Path) -> list[Problem]:
    """Every command of the document at ``path`` that does not check out."""
    text = path.read_text(encoding="utf-8")
    functions = set(re.findall(r"^\s*([a-z_][a-z0-9_]*)\(\)\s*\{", text, flags=re.MULTILINE))
    block_lines = {number for number, _ in _block_lines(text)}
    exported: set[str] = set()  # variables the document has set by this command (export VAR=...)
    found = []
    for line, words in commands(text):
        if words and words[0].endswith("()"):  # a function definition: its body's commands come separately
            continue
        if words and words[0] == "export":
            exported |= {w.split("=", 1)[0] for w in words[1:]}
        # Guards apply to commands the reader runs (```bash blocks), not to names in prose.
        message = _check(words, functions, exported if line in block_lines else None)
        if message:
            found.append(Problem(path.name, line, " ".join(words), message))
    return found
