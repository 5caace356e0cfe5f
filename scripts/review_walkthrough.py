"""Review a run by keyboard in headless Chromium and print what it took; save screenshots of the pages.

    .venv/bin/python scripts/review_walkthrough.py RUN_DIR --items 20 --shots DIR [--reject-every 5] [--correct-every 7]

The run is copied to a temporary outputs directory first (its reviews.jsonl is written there, never in
RUN_DIR). `benchmaker review` is started as a user would start it; Playwright drives Debian's chromium
(/usr/bin/chromium). From the list page, Enter opens the first unreviewed item; each item is accepted
with `a`, except every Nth, which is rejected with `r` then a reason digit, and every Mth, whose key is
corrected (`c`, an arrow, Enter, the note, Enter). Printed: keystrokes in all
and per item, seconds per decision (the page round trip, not a person's reading time), and the
decisions recorded. Screenshots: the list (what an analyst sees first), the first item above the fold,
the first item's whole page, and the list after the review.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--reject-every", type=int, default=0, help="Reject every Nth item (reason 1), 0: never.")
    parser.add_argument(
        "--correct-every", type=int, default=0, help="Correct every Nth item's key to the next option, 0: never."
    )
    parser.add_argument("--note", default="key was wrong", help="The note typed with each correction.")
    parser.add_argument("--shots", type=Path, default=Path("outputs/review-shots"))
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="review-walkthrough-"))
    run_dir = scratch / "runs" / args.run_dir.name
    shutil.copytree(args.run_dir, run_dir, ignore=shutil.ignore_patterns("reviews.jsonl", ".reviews.lock"))
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmaker.cli", "review", str(run_dir), "--no-browser", "--reviewer", "walkthrough"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        url = next(line.strip() for line in process.stdout if line.startswith("http://"))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "?status=unreviewed")
            page.screenshot(path=args.shots / "1-list.png")
            keys = 0
            page.keyboard.press("Enter")
            keys += 1
            page.wait_for_url("**/item/**")
            page.screenshot(path=args.shots / "2-item.png")
            page.screenshot(path=args.shots / "3-item-full.png", full_page=True)
            started = time.perf_counter()
            for n in range(1, args.items + 1):
                before = page.url
                if args.correct_every and n % args.correct_every == 0:
                    # c focuses the key; an arrow moves it; Enter submits, the empty required note takes the
                    # focus; the note is typed and Enter submits
                    for key in ("c", "ArrowDown", "Enter"):
                        page.keyboard.press(key)
                    page.keyboard.type(args.note)
                    page.keyboard.press("Enter")
                    keys += 4 + len(args.note)
                elif args.reject_every and n % args.reject_every == 0:
                    page.keyboard.press("r")
                    page.keyboard.press("1")
                    keys += 2
                else:
                    page.keyboard.press("a")
                    keys += 1
                page.wait_for_function("u => window.location.href !== u", arg=before)
                page.wait_for_load_state()
                if "/item/" not in page.url:
                    break
            seconds = time.perf_counter() - started
            page.goto(url)
            page.screenshot(path=args.shots / "4-list-after.png", full_page=True)
            browser.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
    decisions = [json.loads(line) for line in (run_dir / "reviews.jsonl").read_text().splitlines()]
    actions = {a: sum(d["action"] == a for d in decisions) for a in ("accept", "reject", "correct")}
    print(f"run: {args.run_dir}")
    print(f"decisions recorded: {len(decisions)} {actions}")
    print(f"keystrokes: {keys} in all, {keys / max(1, len(decisions)):.2f} per decision (1 to open the first item)")
    each = seconds / max(1, len(decisions))
    print(f"page round trips: {seconds:.2f} s for {len(decisions)} decisions ({each:.3f} s each)")
    print(f"screenshots: {args.shots}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
