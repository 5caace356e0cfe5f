"""Releases honour reviews: rejected items never published, corrections published as corrected with
key_evidence human and their revisions, only-reviewed releases, human-written items, and reviews of a
published version (anchors, errata)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmaker.cli import app as cli_app
from benchmaker.errors import ConfigError
from benchmaker.items import MCQ
from benchmaker.releases.build import ReleaseRequest, create_release
from benchmaker.releases.settings import ReleaseSettings
from benchmaker.releases.store import ReleaseStore
from benchmaker.review.models import ItemContent
from benchmaker.review.source import ReviewSource
from tests.review_fixtures import make_review_run, review_items

runner = CliRunner()
HASHING = {"dedup": {"embedder": "hashing"}}


def settings(**extra: object) -> ReleaseSettings:
    return ReleaseSettings.model_validate({**HASHING, **extra})


def release(outputs: Path, *runs: Path, name: str = "mult", **extra: object):
    request = ReleaseRequest(name=name, run_dirs=list(runs), settings=settings(**extra), outputs_dir=outputs)
    return create_release(request)


def content(item) -> ItemContent:  # noqa: ANN001
    return ItemContent(question=item.question, choices=item.choices, answer_index=item.answer_index)


def published(outcome) -> list[dict]:  # noqa: ANN001
    return [json.loads(line) for line in (outcome.path / "items.jsonl").read_text().splitlines()]


@pytest.fixture
def reviewed_run(tmp_path: Path) -> Path:
    """Item 1 accepted, item 2's key corrected (B -> A), item 3 rejected; the other three unreviewed."""
    run_dir = make_review_run(tmp_path / "outputs")
    items = review_items()
    log = ReviewSource.open(run_dir).log
    log.decide(item_id=items[0].id, original=content(items[0]), reviewer="ana", action="accept", based_on=None)
    fixed = content(items[1]).model_copy(update={"answer_index": 0})
    log.decide(
        item_id=items[1].id,
        original=content(items[1]),
        reviewer="ana",
        action="correct",
        based_on=None,
        note="9 x 8 is 72",
        after=fixed,
    )
    log.decide(
        item_id=items[2].id,
        original=content(items[2]),
        reviewer="bo",
        action="reject",
        based_on=None,
        reason="ambiguous",
    )
    return run_dir


def test_a_release_leaves_rejected_items_out_and_publishes_corrections_as_corrected(tmp_path, reviewed_run):
    items = review_items()
    outcome = release(tmp_path / "outputs", reviewed_run)
    assert outcome.published
    rows = {row["source"]["item_id"]: row for row in published(outcome)}
    assert items[2].id not in rows  # rejected: never published
    assert set(rows) == {items[0].id, items[1].id, items[3].id, items[4].id, items[5].id}
    corrected = rows[items[1].id]
    assert (corrected["answer"], corrected["choices"][corrected["answer_index"]]) == ("A", "72")
    assert corrected["metadata"]["key_evidence"] == "human"
    assert (
        corrected["id"] == MCQ(question="What is 9 x 8?", choices=("72", "81", "64", "70"), answer_index=0).content_id()
    )
    review = corrected["source"]["review"]
    assert (review["status"], review["revision"], review["reviewer"], review["original_key_evidence"]) == (
        "corrected",
        1,
        "ana",
        "judge",
    )
    assert review["revisions"][0]["note"] == "9 x 8 is 72" and review["revisions"][0]["before"]["answer_index"] == 1
    accepted = rows[items[0].id]
    assert accepted["metadata"]["key_evidence"] == "program+generator"
    assert accepted["source"]["review"]["status"] == "accepted"
    assert rows[items[3].id]["source"]["review"] is None
    manifest = outcome.manifest.review
    assert [(r.id, r.reason, r.reviewer) for r in manifest.rejected] == [(items[2].id, "ambiguous", "bo")]
    assert (manifest.runs[0].accepted, manifest.runs[0].corrected, manifest.runs[0].unreviewed) == (1, 1, 3)
    changelog = (outcome.path / "CHANGELOG.md").read_text()
    assert "## Human review" in changelog and "1 rejected items left out" in changelog
    assert "&lt;script&gt;" in changelog and "<script>" not in changelog  # the rejected hostile question, escaped
    export = [
        json.loads(line) for line in (outcome.path / "exports" / "hf" / "data" / "test.jsonl").read_text().splitlines()
    ]
    assert sorted(str(row["review"]) for row in export) == ["None", "None", "None", "accepted", "corrected"]
    assert {row["key_evidence"] for row in export if row["review"] == "corrected"} == {"human"}


def test_only_reviewed_leaves_unreviewed_items_out(tmp_path, reviewed_run):
    items = review_items()
    outcome = release(tmp_path / "outputs", reviewed_run, only_reviewed=True)
    assert {row["source"]["item_id"] for row in published(outcome)} == {items[0].id, items[1].id}
    assert outcome.manifest.review.runs[0].left_out_unreviewed == 3


def test_cli_release_with_reviews_human_items_and_only_reviewed(tmp_path, reviewed_run):
    human = tmp_path / "mine.jsonl"
    human.write_text(
        json.dumps({"question": "What is 11 x 11?", "choices": ["121", "111", "1111", "112"], "answer": "A",
                    "author": "Dr. <b>Who</b>"}) + "\n"
        + json.dumps({"id": "h2", "question": "What is 12 x 12?", "choices": ["124", "144"], "answer": 1}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    result = runner.invoke(
        cli_app,
        ["release", "create", "mult", str(reviewed_run), "--human", str(human), "--only-reviewed",
         "--embedding-model", "hashing", "--outputs-dir", str(tmp_path / "outputs")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reviews: 1 rejected items left out, 1 published as corrected, 3 unreviewed left out" in result.output
    assert "2 human-written candidates" in result.output
    rows = published(ReleaseStore(tmp_path / "outputs", "mult").versions() and _latest(tmp_path))
    humans = [row for row in rows if row["source"]["origin"] == "human"]
    assert [(h["question"], h["answer"], h["metadata"]["key_evidence"]) for h in humans] == [
        ("What is 11 x 11?", "A", "human"),
        ("What is 12 x 12?", "B", "human"),
    ]
    assert humans[0]["source"]["run_id"] == "human:mine.jsonl" and humans[1]["source"]["item_id"] == "h2"
    assert humans[0]["metadata"]["author"] == "Dr. <b>Who</b>"  # data kept as written; pages escape it
    assert len(rows) == 4  # 1 accepted + 1 corrected + 2 human-written


def _latest(tmp_path: Path):  # noqa: ANN202
    store = ReleaseStore(tmp_path / "outputs", "mult")

    class Outcome:
        path = store.version_dir(store.latest())

    return Outcome


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"question": "Q?", "choices": ["a", "a"], "answer": "A"}', "mine.jsonl:1: choices are not unique"),
        ('{"question": "Q?", "choices": ["a", "b"], "answer": "C"}', "mine.jsonl:1: answer 'C' is neither"),
        ('{"question": "Q?", "choices": ["a", "b"], "answer": "A", "anser": 1}', "mine.jsonl:1: anser: unknown key"),
        ("not json", "mine.jsonl:1: not JSON"),
    ],
)
def test_a_bad_human_items_file_is_one_line_naming_file_and_line(tmp_path, line, message):
    human = tmp_path / "mine.jsonl"
    human.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        release(tmp_path / "outputs", human=[human])
    result = runner.invoke(
        cli_app, ["release", "create", "x", "--human", str(human), "--outputs-dir", str(tmp_path / "outputs")]
    )
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_reviews_of_a_published_version_drop_or_correct_anchors_and_list_errata(tmp_path):
    outputs = tmp_path / "outputs"
    first = make_review_run(outputs, name="20260101T000000Z_first_aaaaaa")
    v1 = release(outputs, first, anchors=6)
    assert v1.published
    source = ReviewSource.open(v1.path)
    assert source.kind == "release" and source.log.path == v1.path.parent / "reviews.jsonl"
    items = {item.content.question: item for item in source.items()}
    wrong = items["What is 9 x 8?"]
    typo = items["What is 5 x 5?"]
    source.log.decide(
        item_id=wrong.item_id,
        original=wrong.content,
        reviewer="ana",
        action="reject",
        based_on=None,
        reason="wrong_key",
    )
    fixed = typo.content.model_copy(update={"question": "What is 5 times 5?"})
    source.log.decide(
        item_id=typo.item_id,
        original=typo.content,
        reviewer="ana",
        action="correct",
        based_on=None,
        note="wording",
        after=fixed,
    )
    run2 = make_review_run(outputs, name="20260102T000000Z_second_bbbbbb")  # the same questions: all dropped
    v2 = release(outputs, run2, anchors=6, gates={"min_items": 0})
    assert v2.published
    anchors = [row for row in published(v2) if row["anchor"]]
    questions = sorted(row["question"] for row in anchors)
    assert "What is 9 x 8?" not in questions and "What is 5 times 5?" in questions and len(anchors) == 5
    corrected = next(row for row in anchors if row["question"] == "What is 5 times 5?")
    assert corrected["metadata"]["key_evidence"] == "human" and corrected["source"]["review"]["status"] == "corrected"
    review = v2.manifest.review
    assert [ref.question for ref in review.anchors_rejected] == ["What is 9 x 8?"]
    assert sorted((ref.question, ref.status) for ref in review.errata) == [
        ("What is 5 x 5?", "corrected"),
        ("What is 9 x 8?", "rejected"),
    ]
    changelog = (v2.path / "CHANGELOG.md").read_text()
    assert "### Errata: earlier items rejected or corrected since (2)" in changelog
    from fastapi.testclient import TestClient

    from benchmaker.review.app import create_app
    from benchmaker.review.security import Security

    client = TestClient(create_app(ReviewSource.open(v1.path), Security.for_host("127.0.0.1", 80)), "http://127.0.0.1")
    assert "1 rejected" in client.get("/").text and "first in v1" in client.get("/item/1").text


def test_the_quality_report_shows_review_status_and_overturns_per_evidence_level(tmp_path, reviewed_run):
    from benchmaker.scoring.html_report import render_report
    from benchmaker.scoring.job import ScoreJob
    from benchmaker.scoring.settings import ScoreSettings
    from tests.test_scoring import _score

    settings = ScoreSettings(
        panel=[{"model": "scripted"}], judge=None, outputs_dir=tmp_path / "scores", embedding_model="hashing"
    )
    report = _score(ScoreJob([reviewed_run], settings))
    quality = report.benchmarks[0]
    items = review_items()
    statuses = {item.id: item.review_status for item in quality.items}
    assert [statuses[i.id] for i in items] == ["accepted", "corrected", "rejected"] + ["unreviewed"] * 3
    check = quality.checks["human_review"]
    assert (check.status, check.value) == ("ok", 0.5)  # 3 of 6 items decided
    by_level = check.details["by_level"]
    # judge: its one item's key corrected -> 1/1; generator+solvers: rejected as ambiguous, not a wrong key -> 0/1
    assert (by_level["judge"]["overturned"], by_level["judge"]["overturn_rate"]) == (1, 1.0)
    assert (by_level["generator+solvers"]["rejected"], by_level["generator+solvers"]["overturned"]) == (1, 0)
    assert by_level["generator"]["reviewed"] == 0 and by_level["generator"]["overturn_rate"] is None
    html = render_report(report)
    assert "<h2>Human review</h2>" in html and "<td><code>judge</code></td>" in html
    unreviewed = _score(ScoreJob([make_review_run(tmp_path / "other")], settings)).benchmarks[0]
    assert unreviewed.checks["human_review"].reason.startswith("not reviewed")
