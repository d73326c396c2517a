"""Real tools as version oracles: apt's apt_pkg, dpkg itself and python3-rpm.

python3-apt and python3-rpm import only in Debian's own /usr/bin/python3, not in our venv,
so each oracle is one long-lived /usr/bin/python3 process answering JSON lines: each
request is a batch of comparisons, each answer the list of their signs. One process
serves a whole test module, so hypothesis can ask per example cheaply.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

DEBIAN_PYTHON = Path("/usr/bin/python3")

_APT_SERVER = r"""
import json, sys
try:
    import apt_pkg
    apt_pkg.init_system()
except Exception as exc:
    print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}), flush=True)
    raise SystemExit(0)
print(json.dumps({"ready": apt_pkg.VERSION}), flush=True)
for line in sys.stdin:
    results = [apt_pkg.version_compare(a, b) for a, b in json.loads(line)]
    print(json.dumps([(r > 0) - (r < 0) for r in results]), flush=True)
"""


class OracleUnavailable(RuntimeError):
    """The oracle tool is not installed here; the message says what is missing."""


class PipeOracle:
    """A long-lived helper process spoken to over stdin/stdout; closed at exit of `with`."""

    _proc: subprocess.Popen[str]

    def close(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class DebianPythonOracle(PipeOracle):
    """A JSON-lines server in Debian's /usr/bin/python3, where python3-apt/-rpm import.

    The server prints {"ready": version} or {"error": why} first, then answers one JSON
    line per request line.
    """

    def __init__(self, script: str, module: str, package: str, python: Path) -> None:
        if not python.exists():
            raise OracleUnavailable(f"{python} not found (Debian's python3 with {package})")
        self._module = module
        self._proc = subprocess.Popen(
            [str(python), "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        hello = json.loads(self._readline())
        if "error" in hello:
            self.close()
            raise OracleUnavailable(
                f"{python} cannot import {module} ({hello['error']}); install {package}"
            )
        self.server_version: str = hello["ready"]

    def _readline(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self._module} oracle exited (code {self._proc.poll()})")
        return line

    def _request(self, payload: Any) -> Any:
        assert self._proc.stdin is not None
        # ensure_ascii keeps the pipe plain ASCII whatever the versions hold.
        self._proc.stdin.write(json.dumps(payload) + "\n")
        self._proc.stdin.flush()
        return json.loads(self._readline())


class AptOracle(DebianPythonOracle):
    """apt_pkg.version_compare in one /usr/bin/python3 subprocess, fed over a pipe."""

    def __init__(self, python: Path = DEBIAN_PYTHON) -> None:
        super().__init__(_APT_SERVER, "apt_pkg", "python3-apt", python)
        self.apt_version = self.server_version

    def compare_many(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        """Sign of apt's comparison for every pair, in order; one round trip."""
        answer: list[int] = self._request([list(p) for p in pairs])
        assert len(answer) == len(pairs)
        return answer

    def compare(self, a: str, b: str) -> int:
        return self.compare_many([(a, b)])[0]


# For every pair of arguments: -1/0/1 as `dpkg --compare-versions` orders it, or
# "error" where dpkg refuses a version (it exits 2 then, 1 for a plain "false").
_DPKG_LOOP = r"""
while [ "$#" -ge 2 ]; do
    a=$1; b=$2; shift 2
    dpkg --compare-versions "$a" lt "$b" 2>/dev/null; r=$?
    if [ "$r" -eq 0 ]; then echo -1
    elif [ "$r" -ne 1 ]; then echo error
    elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo 0
    else echo 1
    fi
done
"""


def dpkg_compare_many(pairs: Sequence[tuple[str, str]]) -> list[int | str]:
    """dpkg's own verdict per pair, from one shell running dpkg once or twice per pair.

    Slower than apt (a process per comparison), so for spot checks and error cases.
    Versions go through as arguments, so blanks are kept; one starting with "-" cannot
    go (dpkg takes it for an option).
    """
    if shutil.which("dpkg") is None:
        raise OracleUnavailable("dpkg not found")
    for a, b in pairs:
        if a.startswith("-") or b.startswith("-"):
            raise ValueError(f"dpkg would read {a!r} / {b!r} as an option")
    done = subprocess.run(
        ["sh", "-c", _DPKG_LOOP, "sh", *(v for pair in pairs for v in pair)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=120,
    )
    out = done.stdout.split()
    assert len(out) == len(pairs), done.stderr
    return [v if v == "error" else int(v) for v in out]


# rpm.labelCompare((e, v, r), (e, v, r)) per pair ("label"), or on strings parsed by rpm's
# own parseEVR through rpm.ver ("evr"); "parse" returns rpm.ver's (e, v, r) per string;
# "header" decodes header blobs (hex) with rpm.hdr, rpm's own headerImport.
_RPM_SERVER = r"""
import json, sys
try:
    import rpm
except Exception as exc:
    print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}), flush=True)
    raise SystemExit(0)
print(json.dumps({"ready": rpm.__version__}), flush=True)

def evr(text):
    v = rpm.ver(text)
    return (v.e, v.v, v.r)

def sign(r):
    return (r > 0) - (r < 0)

TAGS = ("name", "epoch", "version", "release", "arch", "sourcerpm", "vendor",
        "modularitylabel")

def header(blob):
    try:
        h = rpm.hdr(blob)
    except Exception as exc:
        return {"error": str(exc)}
    return {tag: h[tag] for tag in TAGS}

for line in sys.stdin:
    request = json.loads(line)
    op, items = request["op"], request["items"]
    if op == "label":
        out = [sign(rpm.labelCompare(tuple(a), tuple(b))) for a, b in items]
    elif op == "evr":
        out = [sign(rpm.labelCompare(evr(a), evr(b))) for a, b in items]
    elif op == "header":
        out = [header(bytes.fromhex(blob)) for blob in items]
    else:
        out = [list(evr(text)) for text in items]
    print(json.dumps(out), flush=True)
"""

#: (epoch, version, release) as labelCompare takes it; None is a missing part.
Label = tuple[str | None, str | None, str | None]


class RpmOracle(DebianPythonOracle):
    """python3-rpm's labelCompare and rpm.ver in one /usr/bin/python3 subprocess."""

    def __init__(self, python: Path = DEBIAN_PYTHON) -> None:
        super().__init__(_RPM_SERVER, "rpm", "python3-rpm", python)
        self.rpm_version = self.server_version

    def _ask(self, op: str, items: Sequence[Any]) -> list[Any]:
        answer: list[Any] = self._request({"op": op, "items": items})
        assert len(answer) == len(items)
        return answer

    def label_compare_many(self, pairs: Sequence[tuple[Label, Label]]) -> list[int]:
        """Sign of rpm.labelCompare(a, b) for every pair of (e, v, r) tuples."""
        return self._ask("label", [[list(a), list(b)] for a, b in pairs])

    def compare_many(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        """labelCompare of two "[e:]v[-r]" strings split by rpm itself (rpm.ver)."""
        return self._ask("evr", [list(p) for p in pairs])

    def compare(self, a: str, b: str) -> int:
        return self.compare_many([(a, b)])[0]

    def parse_many(self, versions: Sequence[str]) -> list[Label]:
        """(e, v, r) as rpm's parseEVR splits each non-empty string."""
        return [(e, v, r) for e, v, r in self._ask("parse", list(versions))]

    def read_headers(self, blobs: Sequence[bytes]) -> list[dict[str, Any]]:
        """rpm.hdr(blob)'s name, epoch, version, release, arch, sourcerpm, vendor and
        modularitylabel per blob (None for a missing tag), or {"error": why}."""
        return self._ask("header", [blob.hex() for blob in blobs])
