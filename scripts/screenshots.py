"""Screenshots of the MLflow UI as a new user sees it, into docs/screenshots/ (not in CI):
the runs table, the training run's metrics tab and the registered model version page.

Starts `mlflow server` on 127.0.0.1 over the store the last `dvc repro` logged to (the
tracking URI in models/run.json), opens each page in headless Chromium, then stops the
server. Needs Chromium (Debian: `apt-get install chromium`).

    python scripts/screenshots.py [--run models/run.json] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

log = logging.getLogger("screenshots")
WINDOW = "1800,1100"
RENDER_MS = 40000  # virtual time the UI gets to fetch and draw before the shot


def pages(run: dict) -> dict[str, str]:
    """{screenshot name: UI route} for the training run in models/run.json."""
    experiment, run_id = run["experiment_id"], run["run_id"]
    view = "?workflowType=machine_learning"  # the UI's model-training view, not GenAI's
    return {
        "runs_table": f"#/experiments/{experiment}/runs{view}",
        "run_metrics": f"#/experiments/{experiment}/runs/{run_id}/model-metrics{view}",
        "model_version": f"#/models/{run['registered_model']}/versions/"
                         f"{run['model_version']}{view}",
    }


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url}: mlflow server did not come up in {timeout_s:.0f} s")


def shoot(browser: str, url: str, out: Path) -> None:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--run-all-compositor-stages-before-draw",
                    f"--window-size={WINDOW}",
                    f"--virtual-time-budget={RENDER_MS}", f"--screenshot={out}", url],
                   check=True, capture_output=True, timeout=120)
    log.info("%s ← %s", out, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("models/run.json"))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium not found (Debian: apt-get install chromium)")
    run = json.loads(args.run.read_text())
    url = f"http://127.0.0.1:{args.port}"
    args.out.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", run["tracking_uri"],
         "--host", "127.0.0.1", "--port", str(args.port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url)
        for name, route in pages(run).items():
            shoot(browser, f"{url}/{route}", args.out / f"{name}.png")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
