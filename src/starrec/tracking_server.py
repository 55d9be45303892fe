"""A shared MLflow tracking server on PostgreSQL, started by one command.

    starrec-tracking-server --dir .tracking --host 127.0.0.1 --port 5000   # = `make tracking-server`

starts (initialising on first use) a PostgreSQL cluster in `<dir>/pgdata` listening on
127.0.0.1 only, creates the `mlflow` database, and runs `mlflow server` against it with the
artifacts in `<dir>/artifacts` served through the server (clients need only HTTP:
`MLFLOW_TRACKING_URI=http://host:5000`). Ctrl-C / SIGTERM stops MLflow, then PostgreSQL.

The PostgreSQL binaries come from the `pgserver` wheel (`pip install 'starrec[server]'`), or
`--pg-bindir` / `STARREC_PG_BINDIR`, or an installed PostgreSQL (`pg_config`, Debian's
/usr/lib/postgresql/N/bin). PostgreSQL refuses to run as root: as root, the cluster is owned
and run by an unprivileged user (`postgres` if it exists, otherwise `starrec-pg` is created).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import urllib3

from starrec.servers import ServerError, free_port, port_open, stop_group, wait_started

log = logging.getLogger(__name__)

DATABASE = "mlflow"
PG_SUPERUSER = "postgres"
FALLBACK_SYSTEM_USER = "starrec-pg"


# --- PostgreSQL binaries and the user that runs them -------------------------------------------

def postgres_bindir(explicit: str | Path | None = None) -> Path:
    """The directory holding `initdb` and `postgres`: explicit / STARREC_PG_BINDIR, the
    pgserver wheel, `pg_config --bindir`, Debian's newest /usr/lib/postgresql/N/bin, PATH."""
    candidates: list[Path] = []
    explicit = explicit or os.environ.get("STARREC_PG_BINDIR")
    if explicit:
        candidates.append(Path(explicit))
    else:
        spec = find_spec("pgserver")
        if spec is not None and spec.origin:
            candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
        pg_config = shutil.which("pg_config")
        if pg_config:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                     timeout=10, check=True).stdout.strip()
                candidates.append(Path(out))
        debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
        candidates.extend(reversed(debian))
        on_path = shutil.which("postgres")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    where = f"{explicit} has no initdb/postgres" if explicit else "none found"
    raise ServerError(f"no PostgreSQL server binaries ({where}): pip install 'starrec[server]' "
                      "(the pgserver wheel) or apt-get install postgresql")


def _version(bindir: Path) -> str:
    """"postgres (PostgreSQL) 16.2" -> "16.2"."""
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True,
                         text=True, timeout=30).stdout
    return out.strip().split()[-1] if out.strip() else "?"


def _major_version(bindir: Path) -> str:
    return _version(bindir).split(".")[0]


@dataclass(frozen=True)
class SystemUser:
    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def system_user(name: str | None = None) -> SystemUser | None:
    """None when not root (PostgreSQL runs as us); else the unprivileged user it runs as:
    `name`, or `postgres` if it exists, or `starrec-pg` (created as a system user)."""
    if os.geteuid() != 0:
        return None
    for candidate in [name] if name else [PG_SUPERUSER, FALLBACK_SYSTEM_USER]:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(candidate)
            return SystemUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    if name:
        raise ServerError(f"--pg-user {name}: no such user")
    log.info("creating system user %s to run PostgreSQL (it refuses to run as root)",
             FALLBACK_SYSTEM_USER)
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        FALLBACK_SYSTEM_USER], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise ServerError(f"PostgreSQL cannot run as root and user {FALLBACK_SYSTEM_USER!r} cannot "
                          f"be created ({str(detail).strip()}); pass --pg-user") from exc
    entry = pwd.getpwnam(FALLBACK_SYSTEM_USER)
    return SystemUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _unreachable_parent(path: Path, user: SystemUser) -> Path | None:
    """The first parent of `path` that `user` cannot search (no x bit for it), else None."""
    for parent in reversed(path.resolve().parents):
        st = parent.stat()
        if st.st_uid == user.uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == user.gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return parent
    return None


def runnable_bindir(bindir: Path, user: SystemUser | None) -> Path:
    """`bindir`, or — when the PostgreSQL user cannot reach it (a venv under /root) — a
    root-owned copy of its install (bin, lib, share; for the pgserver wheel also the
    `pgserver.libs` its binaries load through RPATH $ORIGIN/../../../pgserver.libs) in the
    temp dir."""
    if user is None or _unreachable_parent(bindir / "postgres", user) is None:
        return bindir
    prefix = bindir.parent
    wheel_libs = prefix.parent.parent / "pgserver.libs"
    copy = Path(os.environ.get("TMPDIR", "/tmp")) / f"starrec-postgresql-{_version(bindir)}"
    new_prefix = copy / "pgserver" / "pginstall" if wheel_libs.is_dir() else copy
    if copy.exists():
        st = copy.stat()
        if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ServerError(f"{copy} is not ours or is writable by others; remove it")
        if (new_prefix / "bin" / "postgres").is_file():
            return new_prefix / "bin"
    log.info("copying PostgreSQL from %s to %s (user %s cannot reach it)", prefix, copy, user.name)
    staging = copy.with_name(f"{copy.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staged_prefix = staging / new_prefix.relative_to(copy)
    for part in ("bin", "lib", "share"):
        if (prefix / part).is_dir():
            shutil.copytree(prefix / part, staged_prefix / part, symlinks=True)
    if wheel_libs.is_dir():
        shutil.copytree(wheel_libs, staging / wheel_libs.name, symlinks=True)
    for d in [staging, *staging.rglob("*")]:
        if d.is_dir():
            d.chmod(0o755)
    shutil.rmtree(copy, ignore_errors=True)
    staging.rename(copy)
    return new_prefix / "bin"


# --- PostgreSQL -------------------------------------------------------------------------------

@dataclass
class Postgres:
    """A PostgreSQL cluster in `data_dir`, listening on host:port (TCP only, no Unix socket),
    password auth; the password lives in `password_file` (0600)."""

    data_dir: Path
    password_file: Path
    host: str = "127.0.0.1"
    port: int = 5432
    bindir: Path | None = None
    user: SystemUser | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    _log_offset: int = field(default=0, repr=False)

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def uri(self, database: str = DATABASE, driver: str = "postgresql+psycopg2") -> str:
        return (f"{driver}://{PG_SUPERUSER}:{self.password()}@{self.host}:{self.port}/{database}")

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def _run(self, args: list[str], what: str) -> None:
        kwargs = self.user.popen_kwargs() if self.user else {}
        try:
            subprocess.run(args, capture_output=True, text=True, check=True, timeout=300, **kwargs)
        except subprocess.CalledProcessError as exc:
            lines = [ln for ln in (exc.stderr or exc.stdout or "").splitlines() if ln.strip()]
            raise ServerError(f"{what} failed: {lines[-1] if lines else f'exit {exc.returncode}'}"
                              ) from exc

    def init(self) -> bool:
        """initdb on first use (False if the cluster already exists)."""
        version_file = self.data_dir / "PG_VERSION"
        wanted = _major_version(self.bindir)
        if version_file.is_file():
            have = version_file.read_text().strip()
            if have != wanted:
                raise ServerError(f"{self.data_dir} holds a PostgreSQL {have} cluster but the "
                                  f"binaries in {self.bindir} are version {wanted}")
            if not self.password_file.is_file():
                raise ServerError(f"{self.data_dir} exists but its password file "
                                  f"{self.password_file} is missing")
            return False
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ServerError(f"{self.data_dir} is not empty and is not a PostgreSQL cluster")
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            blocked = _unreachable_parent(self.data_dir, self.user)
            if blocked is not None:
                raise ServerError(f"PostgreSQL runs as user {self.user.name!r}, which cannot "
                                  f"reach {self.data_dir} ({blocked} is not searchable by it); "
                                  "choose a --dir outside it, e.g. under /var/lib or /tmp")
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        pwfile = self.data_dir.parent / f".initdb-pw-{os.getpid()}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        try:
            if self.user is not None:
                os.chown(self.data_dir, self.user.uid, self.user.gid)
                os.chown(pwfile, self.user.uid, self.user.gid)
            log.info("initialising PostgreSQL %s cluster in %s", wanted, self.data_dir)
            self._run([str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", PG_SUPERUSER,
                       "--pwfile", str(pwfile), "--auth-local=scram-sha-256",
                       "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C"],
                      f"initdb {self.data_dir}")
        except BaseException:
            self.password_file.unlink(missing_ok=True)
            raise
        finally:
            pwfile.unlink(missing_ok=True)
        return True

    def start(self, timeout_s: float = 60.0) -> None:
        if port_open(self.host, self.port):
            raise ServerError(f"PostgreSQL cannot start: {self.host}:{self.port} is already in use "
                              "(pass another --pg-port)")
        kwargs = self.user.popen_kwargs() if self.user else {}
        log_fh = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        self._log_offset = log_fh.tell()
        if self.user is not None:
            with contextlib.suppress(OSError):
                os.chown(self.log_file, self.user.uid, self.user.gid)
        try:
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-h", self.host,
                 "-p", str(self.port), "-k", "", "-c", "logging_collector=off"],
                stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                start_new_session=True, **kwargs)
        finally:
            log_fh.close()
        if not wait_started(self.process, self._accepts_connections, timeout_s, 0.3):
            if self.process.poll() is not None:
                raise ServerError(f"PostgreSQL did not start (exit {self.process.returncode}): "
                                  f"{self._last_log_error()}")
            self.stop()
            raise ServerError(f"PostgreSQL did not accept connections in {timeout_s:.0f} s: "
                              f"{self._last_log_error()}")
        log.info("PostgreSQL on %s:%d (data %s, pid %d)", self.host, self.port, self.data_dir,
                 self.process.pid)

    def _accepts_connections(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(self.uri("postgres", driver="postgresql"), connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def _last_log_error(self) -> str:
        """PostgreSQL's FATAL line of this start attempt with the few lines that explain it,
        as one line (a bad setting logs `LOG: ... outside the valid range` before the FATAL)."""
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(self._log_offset)
                text = fh.read().decode(errors="replace")
        except OSError:
            return f"no log at {self.log_file}"
        msgs = [" ".join(re.sub(r"^.*?\[\d+\]\s+", "", ln).split()) for ln in text.splitlines()
                if ln.strip()]
        fatal = [i for i, m in enumerate(msgs) if m.startswith(("FATAL:", "PANIC:"))]
        if not fatal:
            return f"{msgs[-1] if msgs else 'empty log'} (log: {self.log_file})"
        before = [m for m in msgs[:fatal[-1]]
                  if m.startswith(("LOG:", "WARNING:", "ERROR:", "DETAIL:", "HINT:"))][-3:]
        return f"{' — '.join([msgs[fatal[-1]], *before])} (log: {self.log_file})"

    def ensure_database(self, name: str = DATABASE) -> None:
        import psycopg2

        conn = psycopg2.connect(self.uri("postgres", driver="postgresql"), connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{name}"')
                    log.info("created database %s", name)
        finally:
            conn.close()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("PostgreSQL did not stop in %.0f s; killing it", timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        log.info("PostgreSQL stopped")


# --- MLflow -------------------------------------------------------------------------------------

def mlflow_command() -> list[str]:
    script = Path(sys.executable).parent / "mlflow"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mlflow.cli import cli; sys.exit(cli())"]


@dataclass
class MlflowServer:
    backend_uri: str
    artifacts: Path
    log_file: Path
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    allowed_hosts: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 180.0) -> None:
        if port_open(self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1", self.port):
            raise ServerError(f"MLflow cannot start: port {self.port} is already in use "
                              "(pass another --port)")
        self.artifacts.mkdir(parents=True, exist_ok=True)
        cmd = [*mlflow_command(), "server", "--host", self.host, "--port", str(self.port),
               "--workers", str(self.workers), "--artifacts-destination", str(self.artifacts)]
        if self.allowed_hosts:
            cmd += ["--allowed-hosts", self.allowed_hosts]
        # The backend URI holds the database password: pass it in the environment, not argv.
        env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": self.backend_uri}
        env.pop("MLFLOW_TRACKING_URI", None)
        # MLflow's job runner (huey consumers for GenAI online scoring / trace archival) is
        # not used by starrec: off unless asked for. It adds 5 processes, holds SIGTERM for
        # 20 s and leaves its queue dir in /dev/shm when stopped.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        log_fh = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log_fh,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log_fh.close()
        if not wait_started(self.process, self.healthy, timeout_s, 0.5):
            if self.process.poll() is not None:
                raise ServerError(f"mlflow server exited ({self.process.returncode}): "
                                  f"{self._last_log_line()}")
            self.stop()
            raise ServerError(f"mlflow server did not answer {self.url}/health in "
                              f"{timeout_s:.0f} s: {self._last_log_line()}")
        log.info("MLflow server %s (backend PostgreSQL, artifacts %s, pid %d)", self.url,
                 self.artifacts, self.process.pid)

    def healthy(self) -> bool:
        try:
            response = urllib3.request("GET", f"{self.url}/health", retries=False,
                                       timeout=urllib3.Timeout(connect=1.0, read=5.0))
        except urllib3.exceptions.HTTPError:
            return False
        return response.status == 200

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log_file.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return f"no log at {self.log_file}"
        errors = [ln for ln in lines if "Error" in ln or "error" in ln]
        picked = errors[-1] if errors else (lines[-1] if lines else "empty log")
        return f"{picked.strip()} (log: {self.log_file})"

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to its whole process group (mlflow starts uvicorn workers), then SIGKILL;
        the group too when mlflow itself already died, so no worker is orphaned."""
        if self.process is not None and stop_group(self.process, timeout_s, "mlflow server"):
            log.info("MLflow server stopped")


# --- both ---------------------------------------------------------------------------------------

@dataclass
class TrackingServer:
    """PostgreSQL + mlflow server, laid out under one directory."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 5000
    pg_port: int = 0
    workers: int = 2
    allowed_hosts: str | None = None
    pg_bindir: str | None = None
    pg_user: str | None = None
    postgres: Postgres | None = None
    mlflow: MlflowServer | None = None

    def start(self) -> None:
        user = system_user(self.pg_user)
        bindir = runnable_bindir(postgres_bindir(self.pg_bindir), user)
        root = self.root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        self.postgres = Postgres(root / "pgdata", root / "pg-password", port=self.pg_port or free_port(),
                                 bindir=bindir, user=user)
        self.postgres.init()
        self.postgres.start()
        try:
            self.postgres.ensure_database(DATABASE)
            self.mlflow = MlflowServer(self.postgres.uri(DATABASE), root / "artifacts",
                                       root / "mlflow-server.log", host=self.host, port=self.port,
                                       workers=self.workers, allowed_hosts=self.allowed_hosts)
            self.mlflow.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.mlflow is not None:
            self.mlflow.stop()
        if self.postgres is not None:
            self.postgres.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[TrackingServer]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="starrec-tracking-server",
        description="MLflow tracking server on PostgreSQL (both started here, stopped on Ctrl-C).")
    p.add_argument("--dir", default=os.environ.get("STARREC_TRACKING_DIR", ".tracking"),
                   help="holds pgdata/, artifacts/, logs and the database password "
                        "(default: .tracking, or STARREC_TRACKING_DIR)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface MLflow binds to; 0.0.0.0 to serve other machines")
    p.add_argument("--port", type=int, default=5000, help="MLflow port (default 5000)")
    p.add_argument("--pg-port", type=int, default=0,
                   help="PostgreSQL port on 127.0.0.1 (default: a free one)")
    p.add_argument("--workers", type=int, default=2, help="MLflow server workers (default 2)")
    p.add_argument("--allowed-hosts", default=None,
                   help="Host headers MLflow accepts, e.g. 'mlflow.example.com,10.0.0.5:5000' "
                        "(MLflow's default: localhost and private IPs)")
    p.add_argument("--pg-bindir", default=None, help="PostgreSQL bin dir (default: see --help)")
    p.add_argument("--pg-user", default=None, help="system user running PostgreSQL when root")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    args = _parse(argv)
    server = TrackingServer(Path(args.dir), host=args.host, port=args.port, pg_port=args.pg_port,
                            workers=args.workers, allowed_hosts=args.allowed_hosts,
                            pg_bindir=args.pg_bindir, pg_user=args.pg_user)

    def _terminate(signum, _frame):
        # once: a second Ctrl-C / SIGTERM must not interrupt the orderly stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        with server.running():
            log.info("ready: export MLFLOW_TRACKING_URI=%s (Ctrl-C stops the server)",
                     server.mlflow.url)
            code = server.mlflow.process.wait()
            log.error("mlflow server exited (%s); stopping PostgreSQL", code)
            return 1
    except ServerError as exc:
        print(f"starrec-tracking-server: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        log.info("stopped (%s)", exc or "SIGINT")
        return 0


if __name__ == "__main__":
    sys.exit(main())
