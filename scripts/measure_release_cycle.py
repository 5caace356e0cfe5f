"""Measure a release and a full refresh cycle on the embedded local model (a measurement, not a test).

Run (the local model is shared and serial, so queue on its lock):
  flock /tmp/benchmaker-local-model.lock .venv/bin/python scripts/measure_release_cycle.py \
      [--config examples/refresh.yaml] [--against ../shared/data/mmlu-test/high_school_chemistry_test.csv]

Steps, each a CLI command timed from outside: generate a run, score it (panel and judge: the local
model), `release create` v1 from it with the scoring report (dedup with all-MiniLM-L6-v2 against the
public set), then `release refresh` (generate with the version's seed, score, dedup against v1 and the
public set, gates, publish v2). Prints the wall time of each step and what each version holds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def step(label: str, *args: str) -> tuple[float, list[str]]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "benchmaker.cli", *args], cwd=REPO, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    lines = result.stdout.strip().splitlines()
    print(f"{label}: {seconds:.0f} s, exit {result.returncode}")
    for line in lines[-6:]:
        print(f"    {line}")
    if result.returncode not in (0, 3):
        print(result.stderr[-2000:])
        raise SystemExit(f"{label} failed")
    return seconds, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "refresh.yaml")
    parser.add_argument("--against", type=Path, action="append", default=[])
    parser.add_argument("--name", default="chemistry-local")
    parser.add_argument("--outputs-dir", type=Path, default=REPO / "outputs")
    args = parser.parse_args()

    data = yaml.safe_load(args.config.read_text())
    release = dict(data.get("release") or {})
    release["against"] = [str(p.resolve()) for p in args.against]
    data.update(release=release, outputs_dir=str(args.outputs_dir.resolve()))
    config = Path(tempfile.mkdtemp()) / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    outputs = ["--outputs-dir", str(args.outputs_dir.resolve())]
    total = time.monotonic()

    gen_s, lines = step("1. run (generate)", "run", str(config), "--quiet")
    run_dir = lines[-1]
    score_s, lines = step("2. score (panel + judge)", "score", run_dir, "--panel", "local", "--judge", "local",
                          "--quiet", *outputs)  # fmt: skip
    quality = Path(lines[-1]).parent / "quality.json"
    create_s, lines = step("3. release create v1", "release", "create", args.name, run_dir, "--config", str(config),
                           "--quality", str(quality), *outputs)  # fmt: skip
    refresh_s, lines = step("4. release refresh (generate, score, dedup, gates, publish)", "release", "refresh",
                            args.name, "--config", str(config), "--quiet", *outputs)  # fmt: skip
    step("5. release list", "release", "list", args.name, *outputs)

    root = args.outputs_dir / "releases" / args.name
    versions = sorted(int(p.name[1:]) for p in root.glob("v*") if (p / "release.json").is_file())
    print(f"\nversions: {versions}")
    for version in versions[-2:]:
        manifest = json.loads((root / f"v{version}" / "release.json").read_text())
        print(f"v{version}: counts {manifest['counts']}")
        print(f"    gates {[(g['name'], g['status'], g['value']) for g in manifest['gates']]}")
        for drop in manifest["dropped"]:
            print(f"    dropped {drop['reason']} vs {drop['collided_with']['origin']} ({drop['score']}): "
                  f"{drop['question'][:80]}")  # fmt: skip
    print(
        f"\nwall time: run {gen_s:.0f} s, score {score_s:.0f} s, create {create_s:.0f} s, "
        f"refresh {refresh_s:.0f} s; total {time.monotonic() - total:.0f} s"
    )


if __name__ == "__main__":
    main()
