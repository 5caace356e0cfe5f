"""report.html: self-contained, escaped, every criterion and benchmark shown, honest about gaps."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmaker.scoring.html_report import render_report, write_report
from benchmaker.scoring.schema import (
    CHECKS,
    CRITERIA,
    BenchmarkQuality,
    ItemDiagnostics,
    ModelAccuracy,
    QualityReport,
    Result,
)

HOSTILE_QUESTION = "<script>alert(1)</script> & is 2 < 3 --> or not?"
HOSTILE_MODEL = "evil <b>bold</b> $x$ --><script>alert(2)</script>"
NOT_COMPUTABLE_REASON = "imported benchmark: no difficulty labels to control"
CHECK_REASON = "the requirement has no computable answers"
NO_VERDICTS = "no judge verdicts for this benchmark"
LABELLED, UNLABELLED = "full method", "MMLU chemistry"
PANEL = ["openai/gpt-4o-mini", HOSTILE_MODEL]


def _benchmark(name: str, *, labelled: bool, n: int = 12) -> BenchmarkQuality:
    items = []
    for i in range(n):
        label = float(1 + i % 5) if labelled else None
        items.append(
            ItemDiagnostics(
                id=f"{name[:4]}-{i}",
                question=HOSTILE_QUESTION if i == 0 else f"What is {i} times {i + 3}?",
                answer="ABCD"[i % 4],
                difficulty_label=label,
                panel_error_rate=(i % 5) / 4,
                point_biserial=0.1 * (i % 4) - 0.1,
                flagged=["likely_mislabel"] if i in (0, 5) else [],
                embedding_2d=(float(i % 4) + (3 if labelled else 0), float(i // 4)),
                judge_faithfulness=3.0 + (i % 3) if labelled else None,
            )
        )
    criteria = {}
    for criterion in CRITERIA:
        if not labelled and criterion == "difficulty_controllability":
            criteria[criterion] = Result.missing(criterion, NOT_COMPUTABLE_REASON)
        elif criterion == "faithfulness":  # the length-debiased judge score, as quality.py stores it
            criteria[criterion] = (
                Result(
                    name=criterion,
                    status="ok",
                    value=3.8,
                    ci_low=3.6,
                    ci_high=4.0,
                    method="OLS",
                    details={"benchmark": name, "raw_mean": 4.0, "n": n},
                )
                if labelled
                else Result.missing(criterion, NO_VERDICTS, benchmark=name, raw_mean=None)
            )
        else:
            criteria[criterion] = Result(
                name=criterion, status="ok", value=0.5, ci_low=0.4, ci_high=0.6, method=f"method line of {criterion}"
            )
    checks = {
        "answer_position_balance": Result(
            name="answer_position_balance",
            status="ok",
            value=0.7,
            details={"counts": {"A": 3, "B": 3, "C": 3, "D": 3}, "chi2": 0.0, "p_value": 1.0},
        ),
        "program_verification": Result.missing("program_verification", CHECK_REASON),
    }
    accuracy = [
        ModelAccuracy(
            model=model, accuracy=0.5 + 0.1 * j, ci_low=0.3, ci_high=0.8, n_items=n, samples_per_item=2, unparsable=j
        )
        for j, model in enumerate(PANEL)
    ]
    return BenchmarkQuality(
        name=name,
        source=f"outputs/{name}.jsonl",
        kind="generated" if labelled else "imported",
        n_items=n,
        n_options=[4],
        criteria=criteria,
        checks=checks,
        panel_accuracy=accuracy,
        items=items,
    )


def _report() -> QualityReport:
    return QualityReport(
        created_at="2025-06-01T12:00:00Z",
        panel=PANEL,
        samples_per_model=2,
        judge="openai/gpt-4o",
        embedding_model="all-MiniLM-L6-v2",
        reference=UNLABELLED,
        benchmarks=[_benchmark(LABELLED, labelled=True), _benchmark(UNLABELLED, labelled=False)],
        judge_debiasing={
            "faithfulness": Result(
                name="faithfulness_length_coefficient",
                status="ok",
                value=0.0123,
                ci_low=0.004,
                ci_high=0.02,
                method="length coefficient of pooled OLS",
                details={"n": 12, "r2": 0.3},
            ),
            "alignment": Result.missing("alignment", "no judge verdicts"),
        },
    )


class _Page(HTMLParser):
    """What a browser's parser would see: tags, attributes, text, comments."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attrs.extend((tag, name, value or "") for name, value in attrs)

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(_report())


def test_hostile_text_is_escaped_everywhere(html):
    page = _parse(html)
    text = "".join(page.text)
    assert "<script>alert" not in html and "<script" not in html.lower()
    assert page.tags["script"] == 0 and page.tags["b"] == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; is 2 &lt; 3" in html
    assert HOSTILE_QUESTION in text  # shown to the reader verbatim, as text
    assert "evil &lt;b&gt;bold&lt;/b&gt;" in html
    assert HOSTILE_MODEL in text
    assert not any(name.lower().startswith("on") for _, name, _ in page.attrs)


def test_every_criterion_check_and_benchmark_is_shown(html):
    text = "".join(_parse(html).text)
    for name in (*CRITERIA, *CHECKS, LABELLED, UNLABELLED):
        assert name in text, name


def test_not_computable_shows_its_reason(html):
    text = "".join(_parse(html).text)
    assert NOT_COMPUTABLE_REASON in text
    assert CHECK_REASON in text
    assert "n/a" in text


def test_page_refers_to_nothing_outside_itself(html):
    page = _parse(html)
    refs = [(tag, name, value) for tag, name, value in page.attrs if name in ("src", "href", "xlink:href")]
    assert refs, "the page has in-page links and SVG references"
    for tag, name, value in refs:
        assert not re.match(r"\s*(https?:)?//", value, re.I), (tag, name, value)
        assert value.startswith(("#", "data:")), (tag, name, value)
    assert not any(tag in page.tags for tag in ("script", "link", "iframe", "img", "object", "embed"))
    assert "url(http" not in html and "@import" not in html
    assert "http://" not in html and "https://" not in html  # not even SVG namespace URLs


def test_judge_debiasing_table_shows_raw_debiased_and_coefficient(html):
    section = re.search(r'<section id="judge">(.*?)</section>', html, re.S).group(1)
    text = "".join(_parse(section).text)
    assert "0.012" in text and "[0.004, 0.020]" in text  # pooled length coefficient with CI
    assert "4.000" in text and "3.800" in text and "[3.600, 4.000]" in text  # raw and debiased
    assert NO_VERDICTS in text and "no judge verdicts" in text
    assert "mean of 12 item scores" not in text  # the stored raw mean wins over the items' scores


def test_plots_are_embedded_inline(html):
    page = _parse(html)
    # one histogram (only one benchmark has labels) + label-vs-error + embedding + positions + accuracy
    assert page.tags["svg"] == 5
    ids = [value for _, name, value in page.attrs if name == "id"]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"inline SVGs must not share ids: {duplicates[:5]}"


def test_missing_labels_say_not_available(html):
    card = re.search(rf"<h3>{re.escape(UNLABELLED)}</h3>\s*<p class=\"note\">(not available:[^<]*)</p>", html)
    assert card, "the unlabelled benchmark's histogram card should carry a not-available note"
    assert "difficulty label" in card.group(1)
    assert f"Not shown: {UNLABELLED}: no difficulty labels" in html


def test_rendering_is_deterministic(html):
    assert render_report(_report()) == html


def test_sparse_report_renders_notes_not_empty_charts():
    """A panel of one, a benchmark without items and no judge: notes instead of charts, no crash."""
    base = _benchmark(LABELLED, labelled=True)
    bare = base.model_copy(
        update={
            "name": "empty",
            "items": [],
            "n_items": 0,
            "panel_accuracy": [],
            "checks": {"answer_position_balance": Result.missing("answer_position_balance", "no items")},
        }
    )
    solo = base.model_copy(update={"panel_accuracy": base.panel_accuracy[:1]})
    report = _report().model_copy(
        update={"benchmarks": [solo, bare], "panel": PANEL[:1], "judge": None, "judge_debiasing": {}}
    )
    html = render_report(report)
    text = "".join(_parse(html).text)
    assert "not available: the report holds no items" in text
    assert "not available: no judge in this report" in text
    assert "empty: no 2-D coordinates" in text
    assert "A panel of one model" in text
    empty = render_report(_report().model_copy(update={"benchmarks": []}))
    assert _parse(empty).tags["svg"] == 0 and "not available" in empty


def test_write_report_is_atomic_and_complete(tmp_path):
    target = tmp_path / "out" / "report.html"
    write_report(_report(), target)
    write_report(_report(), target)  # replaces in place
    assert target.read_text(encoding="utf-8") == render_report(_report())
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


# --------------------------------------------------------------------------- real browser

CHROMIUM = Path("/usr/bin/chromium")


def _screenshot(page: Path, tmp_path: Path, name: str) -> tuple[Path, list[str]]:
    """Headless Chromium renders ``page``; returns the PNG and the page's console lines."""
    shot = tmp_path / f"{name}.png"
    profile = tmp_path / f"profile-{name}"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    console = [
        line for line in done.stderr.splitlines() if "Uncaught" in line or ("CONSOLE" in line and page.name in line)
    ]
    return shot, console


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_report_renders_in_headless_chromium_without_errors(tmp_path):
    # The console capture works: a page with a broken script is caught.
    canary = tmp_path / "canary.html"
    canary.write_text("<!DOCTYPE html><p>x</p><script>console.error('canary'); no_such_function();</script>")
    _, canary_console = _screenshot(canary, tmp_path, "canary")
    assert any("Uncaught" in line for line in canary_console), "console capture did not see a broken page"

    page = tmp_path / "report.html"
    write_report(_report(), page)
    shot, console = _screenshot(page, tmp_path, "report")
    assert shot.exists() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert console == [], console
