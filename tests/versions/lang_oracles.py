"""The ecosystems' own version code as oracles for the language comparators.

Each oracle is one long-lived subprocess that reads ``a<TAB>b`` lines and answers each
with ``-1``, ``0``, ``1`` or ``error`` (the tool refuses a version), so hypothesis can ask
thousands of questions through one process:

- npm: the `semver` package (node-semver) run by node, installed with npm into a temp dir;
- Maven: ComparableVersion from Debian's maven (`/usr/share/maven/lib/maven-artifact-*.jar`);
- Go: golang.org/x/mod/semver as vendored in the Go toolchain's own source tree;
- RubyGems: Gem::Version of Debian's ruby;
- Composer: composer/semver's VersionParser (Debian php-composer-semver) + version_compare.

A missing tool raises OracleUnavailable with what to install; the tests skip with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.versions.oracles import OracleUnavailable, PipeOracle

__all__ = ["LineOracle", "OracleUnavailable"]


class LineOracle(PipeOracle):
    """A subprocess that prints one line when ready, then answers one line per pair."""

    def __init__(self, argv: Sequence[str], *, cwd: Path | None = None, name: str = "") -> None:
        self.name = name or argv[0]
        env = dict(os.environ, LC_ALL="C.UTF-8")
        try:
            self._proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                cwd=cwd,
                env=env,
            )
        except OSError as exc:
            raise OracleUnavailable(f"{self.name}: cannot start {argv[0]}: {exc}") from None
        hello = self._readline()
        if not hello.startswith("ready"):
            self.close()
            raise OracleUnavailable(f"{self.name} did not start: {hello!r}")
        self.version = hello.removeprefix("ready").strip()

    def _readline(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            assert self._proc.stderr is not None
            err = self._proc.stderr.read()[-2000:]
            raise OracleUnavailable(f"{self.name} exited ({self._proc.poll()}): {err}")
        return line.rstrip("\n")

    def compare_many(self, pairs: Sequence[tuple[str, str]]) -> list[int | str]:
        """The oracle's verdict per pair, in order: -1/0/1, or "error"."""
        assert self._proc.stdin is not None
        for a, b in pairs:
            assert not any(c in "\t\r\n" for c in a + b), (a, b)
        answers: list[int | str] = []
        # Chunks keep both pipe buffers far from full (a few bytes per answer).
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            self._proc.stdin.write("".join(f"{a}\t{b}\n" for a, b in chunk))
            self._proc.stdin.flush()
            for _ in chunk:
                line = self._readline().strip()
                answers.append(line if line == "error" else int(line))
        return answers


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise OracleUnavailable(f"{tool} not found (Debian package {package})")
    return path


_NODE_SERVER = r"""
const dir = process.argv[1];
const semver = require(dir + '/node_modules/semver');
const version = require(dir + '/node_modules/semver/package.json').version;
const rl = require('readline').createInterface({ input: process.stdin });
process.stdout.write('ready ' + version + '\n');
rl.on('line', (line) => {
  const tab = line.indexOf('\t');
  let out;
  try { out = String(semver.compare(line.slice(0, tab), line.slice(tab + 1))); }
  catch (e) { out = 'error'; }
  process.stdout.write(out + '\n');
});
"""


def install_node_semver(dest: Path) -> Path:
    """`npm install --prefix dest semver` (the npm registry); OracleUnavailable on failure."""
    _need("node", "nodejs")
    npm = _need("npm", "npm")
    if not (dest / "node_modules" / "semver" / "package.json").exists():
        try:
            subprocess.run(
                [npm, "install", "--prefix", str(dest), "--no-audit", "--no-fund", "semver"],
                check=True,
                capture_output=True,
                text=True,
                timeout=180,
            )
        except subprocess.CalledProcessError as exc:
            raise OracleUnavailable(f"npm install semver failed: {exc.stderr[-500:]}") from None
        except subprocess.TimeoutExpired:
            raise OracleUnavailable(
                "npm install semver timed out (registry unreachable?)"
            ) from None
    return dest


def node_semver_oracle(prefix: Path) -> LineOracle:
    node = _need("node", "nodejs")
    return LineOracle([node, "-e", _NODE_SERVER, str(prefix)], name="node-semver")


_MAVEN_SERVER = r"""
import java.io.*;
import org.apache.maven.artifact.versioning.ComparableVersion;
public class MavenOracle {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, "UTF-8");
    out.println("ready " + ComparableVersion.class.getPackage().getImplementationVersion());
    out.flush();
    String line;
    while ((line = in.readLine()) != null) {
      int tab = line.indexOf('\t');
      int c = new ComparableVersion(line.substring(0, tab))
          .compareTo(new ComparableVersion(line.substring(tab + 1)));
      out.println(Integer.signum(c));
      out.flush();
    }
  }
}
"""


def maven_oracle(work: Path) -> LineOracle:
    java = _need("java", "default-jre-headless")
    jars = sorted(Path("/usr/share/maven/lib").glob("maven-artifact-*.jar"))
    if not jars:
        raise OracleUnavailable("maven-artifact jar not found (Debian package maven)")
    source = work / "MavenOracle.java"
    source.write_text(_MAVEN_SERVER)
    return LineOracle([java, "-cp", str(jars[0].resolve()), str(source)], name="maven")


_GO_MAIN = r"""package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"

	"oracle/semver"
)

func main() {
	fmt.Println("ready " + runtime.Version())
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		parts := strings.SplitN(in.Text(), "\t", 2)
		if !semver.IsValid(parts[0]) || !semver.IsValid(parts[1]) {
			fmt.Println("error")
			continue
		}
		fmt.Println(semver.Compare(parts[0], parts[1]))
	}
}
"""


def go_semver_oracle(work: Path) -> LineOracle:
    """x/mod/semver from GOROOT/src/cmd/vendor, built offline into `work`."""
    go = _need("go", "golang-go")
    goroot = subprocess.run(
        [go, "env", "GOROOT"], capture_output=True, text=True, check=True
    ).stdout.strip()
    vendored = Path(goroot) / "src/cmd/vendor/golang.org/x/mod/semver/semver.go"
    if not vendored.exists():
        raise OracleUnavailable(f"{vendored} not found (Debian package golang-src)")
    (work / "semver").mkdir(parents=True, exist_ok=True)
    shutil.copy(vendored, work / "semver" / "semver.go")
    (work / "go.mod").write_text("module oracle\n\ngo 1.18\n")
    (work / "main.go").write_text(_GO_MAIN)
    env = dict(
        os.environ,
        GOPROXY="off",
        GOFLAGS="-mod=mod",
        GOCACHE=str(work / ".cache"),
        GOPATH=str(work / ".gopath"),
    )
    built = subprocess.run(
        [go, "build", "-o", "oracle", "."], cwd=work, env=env, capture_output=True, text=True
    )
    if built.returncode != 0:
        raise OracleUnavailable(f"cannot build the Go oracle: {built.stderr[-500:]}")
    return LineOracle([str(work / "oracle")], name="go x/mod/semver")


_RUBY_SERVER = r"""
$stdout.sync = true
puts "ready #{Gem::VERSION}"
STDIN.each_line do |line|
  a, b = line.chomp("\n").split("\t", 2)
  begin
    puts((Gem::Version.new(a) <=> Gem::Version.new(b)).to_s)
  rescue ArgumentError
    puts "error"
  end
end
"""


def ruby_gem_oracle() -> LineOracle:
    ruby = _need("ruby", "ruby")
    return LineOracle([ruby, "-e", _RUBY_SERVER], name="Gem::Version")


_PHP_SERVER = r"""
require '/usr/share/php/Composer/Semver/autoload.php';
$parser = new Composer\Semver\VersionParser();
$raw = ($argv[1] ?? '') === 'raw';
echo "ready ", PHP_VERSION, "\n";
while (($line = fgets(STDIN)) !== false) {
    [$a, $b] = explode("\t", rtrim($line, "\n"), 2);
    if ($raw) {
        echo version_compare($a, $b), "\n";
        continue;
    }
    try {
        $na = $parser->normalize($a);
        $nb = $parser->normalize($b);
    } catch (UnexpectedValueException $e) {
        echo "error\n";
        continue;
    }
    if (strpos($na, 'dev-') === 0 || strpos($nb, 'dev-') === 0) {
        echo "error\n";
        continue;
    }
    echo version_compare($na, $nb), "\n";
}
"""


def php_oracle(*, raw: bool = False) -> LineOracle:
    """Composer's normalize + version_compare; `raw`: PHP's version_compare alone."""
    php = _need("php", "php-cli")
    if not Path("/usr/share/php/Composer/Semver/autoload.php").exists():
        raise OracleUnavailable("composer/semver not found (Debian package php-composer-semver)")
    argv = [php, "-r", _PHP_SERVER, "--", "raw" if raw else "composer"]
    return LineOracle(argv, name="php version_compare" if raw else "composer/semver")


_RUST_MAIN = r"""
use std::io::{self, BufRead, Write};
use semver::{BuildMetadata, Version};

fn main() {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "ready semver").unwrap();
    out.flush().unwrap();
    for line in io::stdin().lock().lines() {
        let line = line.unwrap();
        let mut parts = line.splitn(2, '\t');
        let (a, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let answer = match (Version::parse(a), Version::parse(b)) {
            // precedence: build metadata does not count (semver's Ord would break the tie)
            (Ok(mut x), Ok(mut y)) => {
                x.build = BuildMetadata::EMPTY;
                y.build = BuildMetadata::EMPTY;
                (x.cmp(&y) as i8).to_string()
            }
            _ => "error".to_string(),
        };
        writeln!(out, "{}", answer).unwrap();
        out.flush().unwrap();
    }
}
"""

_DEBIAN_CRATES = Path("/usr/share/cargo/registry")


def cargo_semver_oracle(work: Path) -> LineOracle:
    """The Rust `semver` crate (Debian librust-semver-dev's source), compiled with rustc.

    rustc directly, not cargo: two compiler runs (~3 s) and no registry; the crate's build
    script only sets cfgs for compilers older than any rustup ships.
    """
    rustc = shutil.which("rustc") or str(Path.home() / ".cargo/bin/rustc")
    if not Path(rustc).exists():
        raise OracleUnavailable("rustc not found (Debian package rustc)")
    crates = sorted(_DEBIAN_CRATES.glob("semver-1.*/src/lib.rs"))
    if not crates:
        raise OracleUnavailable("semver crate not found (Debian package librust-semver-dev)")
    (work / "main.rs").write_text(_RUST_MAIN)
    steps = [
        [rustc, "--edition", "2018", "--crate-type", "rlib", "--crate-name", "semver",
         "--cap-lints", "allow", str(crates[-1]), "-o", str(work / "libsemver.rlib")],
        [rustc, "--edition", "2021", str(work / "main.rs"), "--extern",
         f"semver={work / 'libsemver.rlib'}", "-o", str(work / "oracle")],
    ]  # fmt: skip
    for argv in steps:
        built = subprocess.run(
            argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        if built.returncode != 0:
            raise OracleUnavailable(f"cannot build the Rust oracle: {built.stderr[-500:]}")
    oracle = LineOracle([str(work / "oracle")], name="rust semver")
    oracle.version = crates[-1].parent.parent.name.removeprefix("semver-")
    return oracle
