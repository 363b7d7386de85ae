"""The one module that runs Terraform. Everything else asks it to init, plan, show, apply, read the state or
unlock.

Command lines are built by python-terraform; the process is run here so its output can be streamed line by
line (redacted) into the run's log, and so a soft time limit can send Terraform exactly one SIGINT and let it
release its lock and write its state before exiting. The environment is built from nothing: Terraform and the
provider see the credentials and sensitive variables they need and none of the worker's own settings.
"""
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from python_terraform import IsFlagged, Terraform

MASK = "********"
INTERRUPT_GRACE_SECONDS = 60
LOCK_TIMEOUT = "30s"


# Terraform's diagnostics, as 1.0 prints them: "Error: <summary>", a blank line, an optional source snippet
# ("  on main.tf line 3:" and the lines under it), then the detail wrapped at about 78 columns. Without
# -no-color each line is coloured and boxed ("╷", "│ ", "╵").
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DIAGNOSTIC = re.compile(r"^(Error|Warning): (.*)$")
_SNIPPET = re.compile(r"^\s+(on|with) \S")
_BOX_START, _BOX_LINE, _BOX_END = "╷", "│", "╵"
MAX_DETAIL = 2000
MAX_MESSAGE = 3500
TAIL_LINES = 15


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" or "warning"
    summary: str
    detail: str

    def __str__(self) -> str:
        return f"{self.summary}\n{self.detail}" if self.detail else self.summary


def parse_diagnostics(output: str) -> list[Diagnostic]:
    """The errors and warnings in Terraform's human output, in the order it printed them."""
    found: list[tuple[str, str, list[str]]] = []
    body: list[str] | None = None
    for raw in _ANSI.sub("", output).splitlines():
        line = raw.rstrip()
        if line.startswith(_BOX_START) or line.startswith(_BOX_END):
            body = None  # a box opens or closes: what follows belongs to no diagnostic until one starts
            continue
        boxed = line.startswith(_BOX_LINE)
        if boxed:
            line = line[len(_BOX_LINE):].removeprefix(" ")
        match = _DIAGNOSTIC.match(line)
        if match:
            body = []
            found.append(("error" if match[1] == "Error" else "warning", match[2].strip(), body))
        elif body is not None:
            body.append(line)
    return [Diagnostic(severity, summary, _detail(lines)) for severity, summary, lines in found]


def _detail(lines: list[str]) -> str:
    """The detail's paragraphs, each on one line again, without the source snippet."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    if paragraphs and _SNIPPET.match(paragraphs[0][0]):
        paragraphs = paragraphs[1:]
    text = "\n".join(_unwrap(paragraph) for paragraph in paragraphs)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1].rstrip() + "…"


def _unwrap(paragraph: list[str]) -> str:
    # Terraform wraps prose at spaces; indented lines (lists, paths) stand on their own.
    out: list[str] = []
    for line in paragraph:
        if out and not line[:1].isspace() and not out[-1][:1].isspace():
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(line.strip() for line in out)


class TerraformError(Exception):
    """Terraform ended with an error. Its text (what the run and the request record) is Terraform's own
    cause, first error first: each error's summary and detail, or, when Terraform printed no diagnostic,
    the end of its output."""

    def __init__(self, command: str, returncode: int, output: str):
        # All in args, so the error pickles (a Celery worker can hand it back).
        super().__init__(command, returncode, output)
        self.command = command
        self.returncode = returncode
        self.output = output
        self.errors = [d for d in parse_diagnostics(output) if d.severity == "error"]

    @property
    def summary(self) -> str:
        """The cause in Terraform's words, without the heading."""
        if not self.errors:
            return "\n".join(_ANSI.sub("", self.output).strip().splitlines()[-TAIL_LINES:])
        shown: list[str] = []
        length = 0
        for error in self.errors:
            text = str(error)
            if shown and length + len(text) > MAX_MESSAGE:
                break
            shown.append(text)
            length += len(text)
        left = len(self.errors) - len(shown)
        if left:
            shown.append(
                ngettext("另有 %(count)d 个错误，详见运行日志。", "另有 %(count)d 个错误，详见运行日志。", left)
                % {"count": left}
            )
        return "\n\n".join(shown)

    def __str__(self) -> str:
        if not self.errors:
            return _("Terraform %(command)s 失败（退出码 %(code)d）：\n%(tail)s") % {
                "command": self.command, "code": self.returncode, "tail": self.summary,
            }
        return _("Terraform %(command)s 失败：%(cause)s") % {"command": self.command, "cause": self.summary}


class Redactor:
    """Replaces every secret value with a mask, longest first so a secret inside another is caught whole."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = sorted({str(s) for s in secrets if s and len(str(s)) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def base_environment() -> dict[str, str]:
    """What every Terraform process gets: no checkpoint calls home, no prompts, the mirror-only CLI config."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(settings.TERRAFORM_CLI_CONFIG),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class TerraformClient:
    workdir: Path
    env: dict[str, str]
    redact: Redactor = field(default_factory=Redactor)
    on_output: Callable[[str], None] = lambda line: None
    binary: str = field(default_factory=lambda: settings.TERRAFORM_BIN)
    # Called in the child before exec (the runner makes Terraform die with its worker).
    preexec: Callable[[], None] | None = None

    def __post_init__(self):
        self._tf = Terraform(working_dir=str(self.workdir), terraform_bin_path=self.binary, is_env_vars_included=False)
        self._process: subprocess.Popen | None = None

    # Commands -------------------------------------------------------------------------------------------

    def version(self) -> str:
        return json.loads(self._capture(["version", "-json"]))["terraform_version"]

    def init(self) -> None:
        self._stream("init", self._argv("init", input=False, no_color=IsFlagged))

    def plan(self, planfile: str, *, destroy: bool = False, refresh_only: bool = False) -> bool:
        """Write a plan to `planfile`; True when it would change something."""
        argv = self._argv(
            "plan",
            out=planfile,
            input=False,
            no_color=IsFlagged,
            detailed_exitcode=IsFlagged,
            lock_timeout=LOCK_TIMEOUT,
            destroy=IsFlagged if destroy else None,
            refresh_only=IsFlagged if refresh_only else None,
        )
        code = self._stream("plan", argv, ok=(0, 2))
        return code == 2

    def import_resource(self, address: str, object_id: str) -> None:
        """Bring an object made outside Terraform into the state at `address` (no change in the cloud)."""
        argv = self._argv("import", address, object_id, input=False, no_color=IsFlagged, lock_timeout=LOCK_TIMEOUT)
        self._stream("import", argv)

    def show_plan(self, planfile: str) -> dict:
        return json.loads(self._capture(["show", "-json", planfile]))

    def apply(self, planfile: str) -> None:
        # A saved plan carries its variables: no -var flags (Terraform refuses them), hence var=None.
        argv = self._argv("apply", planfile, input=False, no_color=IsFlagged, lock_timeout=LOCK_TIMEOUT, var=None)
        self._stream("apply", argv)

    def state(self) -> dict:
        """The workspace's current state document, read through the backend; never written to the log.

        Its `outputs` are what `terraform output -json` prints. Read this way rather than with boto3 in the
        worker: as quick in the median (about 60 ms), and steadier, because a fresh boto3 client parses
        botocore's service model and the garbage collector's passes over that stalled one read in ten."""
        return json.loads(self._capture(["state", "pull"]) or "{}")

    def force_unlock(self, lock_id: str) -> None:
        self._stream("force-unlock", self._argv("force-unlock", lock_id, force=IsFlagged))

    def interrupt(self) -> None:
        """Ask the running Terraform to stop cleanly (it finishes the resource in hand and releases its lock)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)

    # Plumbing -------------------------------------------------------------------------------------------

    def _argv(self, command: str, *args, **options) -> list[str]:
        return self._tf.generate_cmd_string(command, *args, **options)

    def _capture(self, args: list[str]) -> str:
        result = subprocess.run(
            [self.binary, *args], cwd=self.workdir, env=self.env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise TerraformError(args[0], result.returncode, self.redact(result.stdout + result.stderr))
        return result.stdout

    def _stream(self, command: str, argv: list[str], ok: tuple[int, ...] = (0,)) -> int:
        self.on_output(f"$ terraform {command}\n")
        lines: list[str] = []
        self._process = subprocess.Popen(
            argv,
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=self.preexec,
        )
        try:
            for line in self._process.stdout:
                clean = self.redact(line)
                lines.append(clean)
                self.on_output(clean)
            code = self._process.wait()
        except BaseException:
            # A soft time limit or worker shutdown lands here: one SIGINT, then let Terraform wind down.
            self.interrupt()
            try:
                self._process.wait(timeout=INTERRUPT_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
            raise
        finally:
            self._process.stdout.close()
            self._process = None
        if code not in ok:
            raise TerraformError(command, code, "".join(lines))
        return code
