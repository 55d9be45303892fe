"""The shared tracking server for real: PostgreSQL + `mlflow server` started by the user's
command, the pipeline's train → evaluate → calibrate → report run against it through `dvc repro` with
MLFLOW_TRACKING_URI, then runs, registered versions and aliases checked through MlflowClient
and the rows checked in PostgreSQL itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import mlflow
import psycopg2
import pytest
from mlflow.tracking import MlflowClient

from starrec.tracking_server import (
    DATABASE,
    Postgres,
    free_port,
    postgres_bindir,
    runnable_bindir,
    system_user,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]  # the shared pipeline run: ~2-5 min

MODEL_STAGES = ["train", "evaluate", "calibrate", "report"]


def test_pipeline_runs_land_in_the_server(pipeline_run, tmp_path: Path) -> None:
    experiment_name, model = pipeline_run.experiment, pipeline_run.registered_model
    assert set(MODEL_STAGES) <= set(pipeline_run.stages), pipeline_run.stages
    client = MlflowClient(tracking_uri=pipeline_run.server.url)
    experiment = client.get_experiment_by_name(experiment_name)
    assert experiment is not None
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # served by the server

    runs = client.search_runs([experiment.experiment_id])
    run_json = json.loads((pipeline_run.repo / "models/run.json").read_text())
    assert run_json["tracking_uri"] == pipeline_run.server.url
    train_run = client.get_run(run_json["run_id"])
    assert train_run.info.status == "FINISHED"
    assert train_run.info.run_id in {r.info.run_id for r in runs}
    assert len(runs) == 1  # train's run (evaluate, calibrate and report resume it)
    # evaluate logged its test metrics into the training run
    assert "model/test/accuracy" in train_run.data.metrics
    assert train_run.data.params["train.model"] == "embedding_head"

    # registry: the Keras model with both aliases on this run's version, the pyfunc
    version = client.get_model_version_by_alias(model, "candidate")
    assert version.run_id == train_run.info.run_id
    assert str(version.version) == str(run_json["model_version"])
    assert client.get_model_version_by_alias(model, "champion").version == version.version
    pyfunc = client.get_model_version_by_alias(f"{model}-pyfunc", "champion")
    assert pyfunc.run_id == train_run.info.run_id
    assert client.get_model_version_by_alias(f"{model}-pyfunc", "candidate").version \
        == pyfunc.version

    # the model's files went through the server into its artifact root, and come back from it
    assert any((pipeline_run.server.root / "artifacts").rglob("MLmodel"))
    # (a models:/ URI would resolve the registry from the default store, not tracking_uri)
    champion_uri = client.get_model_version_download_uri(model, version.version)
    local = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=champion_uri, dst_path=str(tmp_path), tracking_uri=pipeline_run.server.url))
    assert (local / "MLmodel").is_file()
    assert any(local.rglob("*.keras")), sorted(p.name for p in local.rglob("*"))
    assert not (pipeline_run.repo / "must-not-be-used.db").exists()
    assert not (pipeline_run.repo / "mlruns").exists()
    assert not (pipeline_run.repo / "mlflow.db").exists()


def test_runs_and_registry_are_rows_in_postgresql(pipeline_run) -> None:
    experiment_name, model = pipeline_run.experiment, pipeline_run.registered_model
    run_id = json.loads((pipeline_run.repo / "models/run.json").read_text())["run_id"]
    dsn = pipeline_run.server.pg_dsn(DATABASE)
    with closing(psycopg2.connect(dsn, connect_timeout=10)) as conn, conn.cursor() as cur:
        cur.execute("SELECT e.name, r.status FROM runs r JOIN experiments e "
                    "ON e.experiment_id = r.experiment_id WHERE r.run_uuid = %s", (run_id,))
        assert cur.fetchall() == [(experiment_name, "FINISHED")]
        cur.execute("SELECT key FROM metrics WHERE run_uuid = %s AND key = 'model/test/accuracy'",
                    (run_id,))
        assert cur.fetchone() is not None
        cur.execute("SELECT name, alias, version FROM registered_model_aliases "
                    "WHERE name LIKE %s ORDER BY name, alias", (f"{model}%",))
        aliases = {(name, alias) for name, alias, _ in cur.fetchall()}
        assert {(model, "candidate"), (model, "champion"),
                (f"{model}-pyfunc", "champion")} <= aliases
        cur.execute("SELECT count(*) FROM model_versions WHERE run_id = %s", (run_id,))
        assert cur.fetchone()[0] >= 2  # Keras model and pyfunc


def _run_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "starrec.tracking_server", *args],
                          capture_output=True, text=True, timeout=120)


def test_postgres_that_cannot_start_is_one_clear_line(pg_root: Path) -> None:
    """A broken postgresql.conf: the command exits 1 with PostgreSQL's own FATAL line."""
    pg = Postgres(pg_root / "t" / "pgdata", pg_root / "t" / "pg-password",
                  bindir=postgres_bindir(), user=system_user())
    pg.init()
    with (pg.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\nmax_connections = -5\n")
    done = _run_command("--dir", str(pg_root / "t"), "--port", str(free_port()))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("starrec-tracking-server: error: PostgreSQL did not start"), done.stderr
    assert "max_connections" in last
    assert "Traceback" not in done.stderr


def test_no_postgres_binaries_is_one_clear_line(tmp_path: Path) -> None:
    done = _run_command("--dir", str(tmp_path / "t"), "--pg-bindir", str(tmp_path / "nowhere"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"starrec-tracking-server: error: no PostgreSQL server binaries ({tmp_path / 'nowhere'} "
        "has no initdb/postgres): pip install 'starrec[server]' (the pgserver wheel) or "
        "apt-get install postgresql")
    assert "Traceback" not in done.stderr


def test_postgres_runs_from_a_venv_its_user_cannot_reach(pg_root: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    """As root, PostgreSQL runs as an unprivileged user; a venv under a 0700 dir (e.g. /root)
    is out of its reach, so the install is copied to the temp dir and runs from there."""
    user = system_user()
    if user is None:
        pytest.skip("only root hands PostgreSQL to another user")
    bindir = postgres_bindir()
    hidden = tmp_path / "hidden"  # pytest's tmp_path lies under a 0700 dir
    prefix = hidden / "site-packages" / "pgserver" / "pginstall"
    for part in ("bin", "lib", "share"):
        shutil.copytree(bindir.parent / part, prefix / part, symlinks=True)
    if (bindir.parents[2] / "pgserver.libs").is_dir():
        shutil.copytree(bindir.parents[2] / "pgserver.libs", hidden / "site-packages" / "pgserver.libs")
    monkeypatch.setenv("TMPDIR", str(pg_root))

    runnable = runnable_bindir(prefix / "bin", user)
    assert runnable != prefix / "bin" and runnable.is_relative_to(pg_root)
    pg = Postgres(pg_root / "t" / "pgdata", pg_root / "t" / "pg-password", port=free_port(),
                  bindir=runnable, user=user)
    pg.init()
    pg.start()
    try:
        pg.ensure_database(DATABASE)
        with closing(psycopg2.connect(pg.uri(DATABASE, driver="postgresql"))) as conn, \
                conn.cursor() as cur:
            cur.execute("SELECT current_database(), version()")
            name, version = cur.fetchone()
        assert name == DATABASE and version.startswith("PostgreSQL")
    finally:
        pg.stop()
    assert pg.process.returncode is not None
    assert runnable_bindir(prefix / "bin", user) == runnable  # the copy is reused
