"""Human review: the reviews log, stale and concurrent decisions, runs being written, applying reviews, the
overturn counts, and the web app's pages and refusals (driven in-process, without a browser)."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from benchmaker.cli import app as cli_app
from benchmaker.items import BenchmarkItem
from benchmaker.review.app import create_app
from benchmaker.review.apply import apply_reviews
from benchmaker.review.liveness import WRITER_LOCK, RunBeingWritten
from benchmaker.review.log import REVIEWS, ReviewRefused, StaleDecision, read_decisions
from benchmaker.review.models import ItemContent
from benchmaker.review.security import Security
from benchmaker.review.source import ReviewSource
from benchmaker.review.stats import review_summary
from tests.review_fixtures import HOSTILE_OPTION, HOSTILE_QUESTION, make_review_run, review_items

runner = CliRunner()


def content(item: BenchmarkItem) -> ItemContent:
    return ItemContent(question=item.question, choices=item.choices, answer_index=item.answer_index)


def lines(run_dir: Path) -> list[dict]:
    path = run_dir / REVIEWS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_review_run(tmp_path / "outputs")


# -- the log ----------------------------------------------------------------------------------------


def test_decisions_keep_before_and_after_and_never_touch_the_benchmark(run_dir):
    items = review_items()
    benchmark = (run_dir / "benchmark.jsonl").read_bytes()
    log = ReviewSource.open(run_dir).log
    first, second, fourth = items[0], items[1], items[3]
    log.decide(item_id=first.id, original=content(first), reviewer="ana", action="accept", based_on=None)
    log.decide(
        item_id=second.id, original=content(second), reviewer="bo", action="reject", based_on=None, reason="wrong_key"
    )
    fixed = ItemContent(question="What is 3 x 4 exactly?", choices=["12", "7", "1", "34"], answer_index=0)
    decision = log.decide(
        item_id=fourth.id,
        original=content(fourth),
        reviewer="ana",
        action="correct",
        based_on=None,
        note="clearer wording",
        after=fixed,
    )
    recorded = lines(run_dir)
    assert [(r["item_id"], r["action"], r["reviewer"]) for r in recorded] == [
        (first.id, "accept", "ana"),
        (second.id, "reject", "bo"),
        (fourth.id, "correct", "ana"),
    ]
    assert recorded[0]["before"] == recorded[0]["after"] == {"question": "What is 6 x 7?", **_rest(first)}
    assert recorded[1]["after"] is None and recorded[1]["reason"] == "wrong_key"
    assert recorded[2]["before"]["question"] == "What is 3 x 4?"
    assert recorded[2]["after"]["question"] == "What is 3 x 4 exactly?" and recorded[2]["revision"] == 1
    assert decision.key_changed is False  # wording only
    assert all(r["at"] and r["decision_id"] for r in recorded)
    assert (run_dir / "benchmark.jsonl").read_bytes() == benchmark
    states = ReviewSource.open(run_dir).states()
    assert [states[i.id].status for i in items] == [
        "accepted",
        "rejected",
        "unreviewed",
        "corrected",
        "unreviewed",
        "unreviewed",
    ]


def _rest(item: BenchmarkItem) -> dict:
    return {"choices": item.choices, "answer_index": item.answer_index}


def test_a_stale_decision_is_refused_and_nothing_is_written(run_dir):
    item = review_items()[0]
    log = ReviewSource.open(run_dir).log
    first = log.decide(item_id=item.id, original=content(item), reviewer="ana", action="accept", based_on=None)
    with pytest.raises(StaleDecision, match=r"was accepted by ana at .* after this page was opened; reload"):
        log.decide(
            item_id=item.id, original=content(item), reviewer="bo", action="reject", based_on=None, reason="other"
        )
    assert len(lines(run_dir)) == 1
    # based on what is there now, a later decision overrides the earlier one
    log.decide(
        item_id=item.id,
        original=content(item),
        reviewer="bo",
        action="reject",
        based_on=first.decision_id,
        reason="ambiguous",
    )
    assert ReviewSource.open(run_dir).states()[item.id].status == "rejected"


def test_invalid_decisions_are_refused(run_dir):
    item = review_items()[0]
    log = ReviewSource.open(run_dir).log
    decide = dict(item_id=item.id, original=content(item), reviewer="ana", based_on=None)
    with pytest.raises(ReviewRefused, match="a rejection needs a reason"):
        log.decide(action="reject", **decide)
    with pytest.raises(ReviewRefused, match="must change the question, an option or the key"):
        log.decide(action="correct", note="nothing", after=content(item), **decide)
    moved = content(item).model_copy(update={"answer_index": 1})
    with pytest.raises(ReviewRefused, match="needs a note"):
        log.decide(action="correct", after=moved, **decide)
    with pytest.raises(ReviewRefused, match="reviewer"):
        log.decide(action="accept", **{**decide, "reviewer": "bad\nname"})
    assert not (run_dir / REVIEWS).exists()


def test_a_line_cut_short_is_skipped_when_read_and_removed_before_the_next_append(run_dir):
    item = review_items()[0]
    log = ReviewSource.open(run_dir).log
    log.decide(item_id=item.id, original=content(item), reviewer="ana", action="accept", based_on=None)
    whole = (run_dir / REVIEWS).read_bytes()
    (run_dir / REVIEWS).write_bytes(whole + b'{"schema_version": 1, "decision_id": "cut')
    assert len(read_decisions(run_dir / REVIEWS)) == 1
    assert (run_dir / REVIEWS).read_bytes().endswith(b"cut")  # reading never truncates
    other = review_items()[1]
    log.decide(item_id=other.id, original=content(other), reviewer="ana", action="accept", based_on=None)
    assert [r["item_id"] for r in lines(run_dir)] == [item.id, other.id]


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.pwrite(fd, f"{os.getpid()}\\n".encode(), 0)
print("holding", flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def writer(run_dir: Path) -> Iterator[subprocess.Popen]:
    """A process holding the run's writer lock the way a generating run does (issue 12's dirlock)."""
    command = [sys.executable, "-c", HOLD, str(run_dir / WRITER_LOCK)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_run_being_written_is_refused_and_nothing_is_recorded(run_dir):
    item = review_items()[0]
    source = ReviewSource.open(run_dir)  # an app opened before the writer started
    with writer(run_dir) as process:
        with pytest.raises(
            RunBeingWritten, match=rf"being written by another benchmaker process \(pid {process.pid}\)"
        ):
            ReviewSource.open(run_dir)
        with pytest.raises(RunBeingWritten, match="nothing was recorded"):
            source.log.decide(item_id=item.id, original=content(item), reviewer="ana", action="accept", based_on=None)
        assert not (run_dir / REVIEWS).exists()
    # the kernel drops a dead writer's lock
    source.log.decide(item_id=item.id, original=content(item), reviewer="ana", action="accept", based_on=None)
    assert len(lines(run_dir)) == 1


def _reviewer(run_dir: str, name: str, count: int) -> None:
    item = review_items()[0]
    source = ReviewSource.open(Path(run_dir))
    done = 0
    while done < count:
        state = source.states()[item.id]
        try:
            source.log.decide(
                item_id=item.id, original=content(item), reviewer=name, action="accept", based_on=state.last_id
            )
            done += 1
        except StaleDecision:
            continue


def test_concurrent_reviewers_lose_no_decision_and_never_fork_an_items_history(run_dir):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_reviewer, args=(str(run_dir), f"r{n}", 8)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    recorded = lines(run_dir)
    assert len(recorded) == 24
    assert sorted(r["reviewer"] for r in recorded) == sorted(f"r{n}" for n in range(3) for _ in range(8))
    chain = [None] + [r["decision_id"] for r in recorded[:-1]]
    assert [r["based_on"] for r in recorded] == chain  # each decision saw the one before it


# -- applying reviews and the overturn counts ------------------------------------------------------


def _decide_all(run_dir: Path) -> list[BenchmarkItem]:
    items = review_items()
    log = ReviewSource.open(run_dir).log
    log.decide(item_id=items[0].id, original=content(items[0]), reviewer="a", action="accept", based_on=None)
    log.decide(
        item_id=items[1].id,
        original=content(items[1]),
        reviewer="a",
        action="correct",
        based_on=None,
        note="9 x 8 is 72",
        after=content(items[1]).model_copy(update={"answer_index": 0}),
    )
    log.decide(
        item_id=items[2].id,
        original=content(items[2]),
        reviewer="a",
        action="reject",
        based_on=None,
        reason="flawed_question",
    )
    log.decide(
        item_id=items[3].id,
        original=content(items[3]),
        reviewer="a",
        action="reject",
        based_on=None,
        reason="wrong_key",
    )
    log.decide(item_id=items[4].id, original=content(items[4]), reviewer="a", action="accept", based_on=None)
    return items


def test_applying_reviews_leaves_rejected_items_out_and_publishes_corrections_as_human(run_dir):
    items = _decide_all(run_dir)
    decisions = read_decisions(run_dir / REVIEWS)
    reviewed = apply_reviews(items, decisions, only_reviewed=False)
    assert [i.id for i in reviewed.kept] == [items[0].id, items[1].id, items[4].id, items[5].id]
    assert [s.item_id for s in reviewed.rejected] == [items[2].id, items[3].id]
    corrected = reviewed.kept[1]
    assert (corrected.answer, corrected.choices[corrected.answer_index]) == ("A", "72")
    assert corrected.metadata["key_evidence"] == "human"
    review = corrected.metadata["review"]
    assert review["original_key_evidence"] == "judge" and review["key_changed"] is True
    assert [(r["revision"], r["note"], r["before"]["answer_index"]) for r in review["revisions"]] == [
        (1, "9 x 8 is 72", 1)
    ]
    accepted = reviewed.kept[0]
    assert (
        accepted.metadata["key_evidence"] == "program+generator" and accepted.metadata["review"]["status"] == "accepted"
    )
    assert reviewed.kept[3] == items[5]  # unreviewed: as generated
    only = apply_reviews(items, decisions, only_reviewed=True)
    assert [i.id for i in only.kept] == [items[0].id, items[1].id, items[4].id]


def test_overturn_counts_per_evidence_level(run_dir):
    items = _decide_all(run_dir)
    states = ReviewSource.open(run_dir).states()
    summary = review_summary((i.metadata["key_evidence"], states[i.id]) for i in items)
    assert summary["status"] == {"unreviewed": 1, "accepted": 2, "corrected": 1, "rejected": 2}
    by_level = summary["by_level"]
    assert list(by_level) == ["program+generator", "generator+solvers", "judge", "generator"]
    # judge: 1 reviewed, key corrected -> overturned 1/1; generator: 3 items, 2 reviewed (one rejected as a
    # wrong key, one accepted) -> 1/2; generator+solvers: rejected as flawed, not a wrong key -> 0/1
    assert (by_level["judge"]["overturned"], by_level["judge"]["overturn_rate"]) == (1, 1.0)
    assert (by_level["generator"]["items"], by_level["generator"]["reviewed"], by_level["generator"]["overturned"]) == (
        3,
        2,
        1,
    )
    assert by_level["generator"]["overturn_rate"] == 0.5
    assert (by_level["generator+solvers"]["rejected_other"], by_level["generator+solvers"]["overturn_rate"]) == (1, 0.0)
    assert by_level["program+generator"]["overturn_rate"] == 0.0
    low, high = by_level["generator"]["ci"]
    assert 0.05 < low < 0.1 and 0.9 < high < 0.95  # Wilson 95% for 1/2: [0.0945, 0.9055]


# -- the app ------------------------------------------------------------------------------------------


def client_for(run_dir: Path, host: str = "127.0.0.1") -> TestClient:
    security = Security.for_host(host, 8000)
    application = create_app(ReviewSource.open(run_dir), security, reviewer="tester")
    shown = f"[{host}]" if ":" in host else host
    return TestClient(application, base_url=f"http://{shown}:8000", follow_redirects=False)


def form_of(client: TestClient, position: int, action: str, **fields: str) -> dict[str, str]:
    page = client.get(f"/item/{position}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    item_id = re.search(r'name="item_id" value="([^"]+)"', page).group(1)
    based_on = re.search(r'name="based_on" value="([^"]*)"', page).group(1)
    return {"csrf": csrf, "item_id": item_id, "based_on": based_on, "action": action, **fields}


def test_pages_show_evidence_and_escape_every_untrusted_text(run_dir):
    client = client_for(run_dir)
    listing = client.get("/")
    assert listing.status_code == 200
    assert "default-src 'none'" in listing.headers["content-security-policy"]
    page = client.get("/item/3").text
    assert "<script>window.pwned" not in page and "<img src=x" not in page and "</pre><script>" not in page
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;Which of these numbers is prime? {{ 7 * 7 }}" in page
    assert "&lt;img src=x onerror=&#34;window.pwned = 2&#34;&gt;" in page
    evidence = client.get("/item/2").text
    assert "rival solution first" in evidence and "9 x 9 is 81, so B." in evidence  # judge verdicts, both orders
    assert "A × 2" in evidence and "B × 1" in evidence  # solver votes
    programs = client.get("/item/1").text
    assert "answer = 6 * 7" in programs and "majority value <code>42</code>" in programs
    rejections = client.get("/rejections").text
    assert "program_unconfirmed" in rejections and "&lt;b&gt;not bold&lt;/b&gt;" in rejections
    assert HOSTILE_QUESTION not in listing.text and HOSTILE_OPTION not in page


def test_a_forged_form_without_the_token_is_refused_and_nothing_is_recorded(run_dir):
    client = client_for(run_dir)
    form = form_of(client, 1, "accept")
    for forged in ({**form, "csrf": ""}, {k: v for k, v in form.items() if k != "csrf"}, {**form, "csrf": "0" * 64}):
        response = client.post("/item/1/decide", data=forged)
        assert response.status_code == 403
        assert "the form carries no valid CSRF token" in response.text and "nothing was recorded" in response.text
    other_browser = client_for(run_dir)  # another session: its cookie does not match this page's token
    other_browser.get("/")
    assert other_browser.post("/item/1/decide", data=form).status_code == 403
    cross_site = client.post("/item/1/decide", data=form, headers={"Origin": "http://evil.example"})
    assert cross_site.status_code == 403 and "another site" in cross_site.text
    assert not (run_dir / REVIEWS).exists()
    accepted = client.post("/item/1/decide", data=form)
    assert accepted.status_code == 303 and accepted.headers["location"].startswith("/item/2?")
    assert [r["action"] for r in lines(run_dir)] == ["accept"]


def test_a_stale_page_posting_a_decision_is_refused_with_a_clear_message(run_dir):
    first, second = client_for(run_dir), client_for(run_dir)
    seen_by_second = form_of(second, 2, "reject", reason="wrong_key")
    assert first.post("/item/2/decide", data=form_of(first, 2, "accept")).status_code == 303
    stale = second.post("/item/2/decide", data=seen_by_second)
    assert stale.status_code == 409
    assert "Decided since you opened this page" in stale.text and "was accepted by tester" in stale.text
    assert "reload it and decide again (nothing was recorded)" in stale.text
    assert [r["action"] for r in lines(run_dir)] == ["accept"]
    assert second.post("/item/2/decide", data=form_of(second, 2, "reject", reason="wrong_key")).status_code == 303


def test_the_app_refuses_decisions_while_the_run_is_being_written(run_dir):
    client = client_for(run_dir)
    form = form_of(client, 1, "accept")
    with writer(run_dir) as process:
        response = client.post("/item/1/decide", data=form)
        assert response.status_code == 423
        assert f"is being written by another benchmaker process (pid {process.pid})" in response.text
        assert "nothing was recorded" in response.text
    assert not (run_dir / REVIEWS).exists()
    assert client.post("/item/1/decide", data=form).status_code == 303


def test_corrections_through_the_form_and_invalid_ones(run_dir):
    client = client_for(run_dir)
    bad = form_of(client, 2, "correct", question="What is 9 x 8?", choice_0="72", choice_1="72", choice_2="64",
                  choice_3="70", answer="A", note="dup")  # fmt: skip
    refused = client.post("/item/2/decide", data=bad)
    assert refused.status_code == 400 and "choices are not unique" in refused.text
    good = {**bad, "choice_1": "81", "note": "9 x 8 is 72"}
    assert client.post("/item/2/decide", data=good).status_code == 303
    page = client.get("/item/2").text
    assert "revision 1" in page and "key B → A" in page and "9 x 8 is 72" in page
    assert lines(run_dir)[0]["after"] == {
        "question": "What is 9 x 8?",
        "choices": ["72", "81", "64", "70"],
        "answer_index": 0,
    }


def test_host_header_and_the_access_token_off_loopback(run_dir):
    client = client_for(run_dir)
    assert client.get("/", headers={"host": "evil.example:8000"}).status_code == 400
    remote = client_for(run_dir, host="10.1.2.3")  # no token: it is only in the printed URL
    refused = remote.get("/")
    assert refused.status_code == 403 and "needs its access token" in refused.text
    assert remote.get("/?token=wrong").status_code == 403


def test_the_printed_url_lets_a_remote_reviewer_in(run_dir):
    security = Security.for_host("10.1.2.3", 8000)
    application = create_app(ReviewSource.open(run_dir), security, reviewer="tester")
    client = TestClient(application, base_url="http://10.1.2.3:8000", follow_redirects=False)
    entered = client.get(security.url().removeprefix("http://10.1.2.3:8000"))
    assert entered.status_code == 303 and entered.headers["location"] == "/"
    elsewhere = client.get(f"http://10.1.2.3:8000//evil.example/?token={security.access_token}")
    assert elsewhere.headers["location"] == "/evil.example/"  # a path on this server, not another host
    assert client.get("/").status_code == 200


def test_filters_and_quality_flags(run_dir, tmp_path):
    items = review_items()
    report = {
        "benchmarks": [
            {
                "source": str(run_dir),
                "items": [{"id": items[1].id, "flagged": ["likely_mislabel"], "point_biserial": -0.41}],
            }
        ]
    }
    job = tmp_path / "outputs" / "scores" / "job1"
    job.mkdir(parents=True)
    (job / "quality.json").write_text(json.dumps(report))
    client = client_for(run_dir)
    flagged = client.get("/?flagged=likely_mislabel").text
    assert "What is 9 x 8?" in flagged and "What is 6 x 7?" not in flagged and "1 item shown" in flagged
    assert "point biserial -0.41" in client.get("/item/2").text
    assert "What is 9 x 8?" in client.get("/?level=judge").text
    medium = client.get("/?difficulty=medium").text  # labels 4.3 and 7.6; the others are 1.0
    assert "What is 9 x 8?" in medium and "What is 6 x 7?" in medium and "What is 3 x 4?" not in medium
    assert "0 items shown" in client.get("/?difficulty=hard").text
    client.post("/item/1/decide", data=form_of(client, 1, "accept"))
    todo = client.get("/?status=unreviewed").text
    assert "What is 6 x 7?" not in todo and "What is 3 x 4?" in todo


def test_cli_refuses_bad_paths_and_a_run_being_written_in_one_line(run_dir, tmp_path):
    missing = runner.invoke(cli_app, ["review", str(tmp_path / "nope"), "--no-browser"])
    assert missing.exit_code == 2 and "not a directory" in missing.output
    with writer(run_dir) as process:
        busy = runner.invoke(cli_app, ["review", str(run_dir), "--no-browser"])
    assert busy.exit_code == 1
    assert f"is being written by another benchmaker process (pid {process.pid})" in busy.output
    assert "Traceback" not in busy.output


def test_the_reviewer_name_is_set_per_browser_and_recorded(run_dir):
    client = client_for(run_dir)
    page = client.get("/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/reviewer", data={"csrf": csrf, "reviewer": "Ana María"}).status_code == 303
    assert client.post("/reviewer", data={"csrf": csrf, "reviewer": "x\ny"}).status_code == 400
    client.post("/item/1/decide", data=form_of(client, 1, "accept"))
    assert lines(run_dir)[0]["reviewer"] == "Ana María"
