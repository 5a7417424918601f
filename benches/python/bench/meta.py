"""The run's context: machine, OS, library versions, command line, git commit."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from typing import Any, Dict, List

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _command_output(args: List[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10, cwd=REPO_ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_model() -> str:
    for line in _command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _os_name() -> str:
    try:
        with open("/etc/os-release") as release:
            fields = dict(line.rstrip("\n").split("=", 1) for line in release if "=" in line)
        name = fields.get("PRETTY_NAME", "").strip('"')
    except OSError:
        name = ""
    return f"{name or platform.system()} (kernel {platform.release()})"


def _version(module_name: str) -> str:
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "?"))


def _git_commit() -> str:
    commit = _command_output(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = _command_output(["git", "status", "--porcelain", "--untracked-files=no"])
    return f"{commit}{' (with uncommitted changes)' if dirty else ''}"


def collect(argv: List[str]) -> Dict[str, Any]:
    """The meta block of the report."""
    import psutil

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python3", os.path.relpath(sys.argv[0], REPO_ROOT)] + argv),
        "git commit": _git_commit(),
        "machine": f"{_cpu_model()}, {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM",
        "os": _os_name(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "pilum": _version("pilum"),
        "pylance": _version("lance"),
        "pyarrow": _version("pyarrow"),
        "numpy": _version("numpy"),
    }
