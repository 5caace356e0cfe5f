"""Releases: versions, dedup across versions and public sets, anchors, gates, atomic and exclusive publishing."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmaker.cli import app
from benchmaker.config import load_config, parse_config
from benchmaker.errors import ConfigError
from benchmaker.items import normalize_text
from benchmaker.releases.build import ReleaseRequest, create_release
from benchmaker.releases.changelog import diff_items, md_text
from benchmaker.releases.dedup import Deduplicator, Entry, word_ngrams
from benchmaker.releases.gates import evaluate_gates, is_program_backed, summarize_quality
from benchmaker.releases.refresh import Refresh, derive_seed, load_refresh_config
from benchmaker.releases.settings import GateSettings, ReleaseSettings, parse_version, release_name_problem
from benchmaker.releases.store import ReleaseError, ReleaseStore
from benchmaker.run import start_run
from benchmaker.store import config_hash
from tests.conftest import drive, write_config

runner = CliRunner()
HASHING = ReleaseSettings.model_validate({"dedup": {"embedder": "hashing"}})


def make_run(tmp_path: Path, seed: int, n_items: int = 4) -> Path:
    directory = tmp_path / f"cfg{seed}"
    directory.mkdir(exist_ok=True)
    config = load_config(
        write_config(
            directory,
            seed=seed,
            outputs_dir=str(tmp_path / "outputs"),
            requirement={"description": "Two-digit multiplication.", "n_items": n_items},
        )
    )
    run = start_run(config)
    drive(run)
    return run.store.run_dir


def release(tmp_path: Path, *runs: Path, settings: ReleaseSettings = HASHING, name: str = "mult", **kwargs):
    request = ReleaseRequest(
        name=name, run_dirs=list(runs), settings=settings, outputs_dir=tmp_path / "outputs", **kwargs
    )
    return create_release(request)


def run_questions(run_dir: Path) -> list[str]:
    return [json.loads(line)["question"] for line in (run_dir / "benchmark.jsonl").read_text().splitlines()]


# -- names and versions ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "a b", "x" * 65, "-lead", "v1/../../etc", "a\x00b"])
def test_bad_release_names_are_refused_before_any_path_is_built(tmp_path, name):
    assert release_name_problem(name) is not None
    with pytest.raises(ConfigError, match="invalid release name"):
        ReleaseStore(tmp_path, name)
    assert not (tmp_path / "releases").exists()


@pytest.mark.parametrize("name", ["chem", "Chem-2026.1", "a_b", "9lives"])
def test_good_release_names_stay_one_directory_under_releases(tmp_path, name):
    store = ReleaseStore(tmp_path, name)
    assert store.root == (tmp_path / "releases" / name).resolve()


def test_versions_parse_with_or_without_the_v():
    assert parse_version("v3") == 3 and parse_version("12") == 12
    for bad in ("v0", "x1", "v-1", "1.2", "v"):
        with pytest.raises(ValueError):
            parse_version(bad)


def test_a_symlinked_release_name_cannot_escape_the_releases_dir(tmp_path):
    (tmp_path / "releases").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "releases" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="outside"):
        ReleaseStore(tmp_path, "link")


# -- versions, dedup, changelog -------------------------------------------------------------------


def test_versions_hold_only_items_never_published_before(tmp_path):
    first, second = make_run(tmp_path, 1), make_run(tmp_path, 2)
    v1 = release(tmp_path, first)
    v2 = release(tmp_path, second, first)  # the first run again: every one of its items is a repeat
    assert (v1.published, v1.version, v2.published, v2.version) == (True, 1, True, 2)
    store = ReleaseStore(tmp_path / "outputs", "mult")
    items1, items2 = store.items(1), store.items(2)
    assert [i.question for i in items1] == run_questions(first)
    assert {i.id for i in items1}.isdisjoint(i.id for i in items2)
    assert {normalize_text(i.question) for i in items1}.isdisjoint(normalize_text(i.question) for i in items2)
    dropped = v2.manifest.dropped
    assert {d.question for d in dropped} == set(run_questions(first))
    assert {(d.reason, d.collided_with.origin) for d in dropped} == {("exact_duplicate", "v1")}
    assert {d.collided_with.id for d in dropped} == {i.id for i in items1}
    assert v2.manifest.counts.retired == len(items1)
    # ids are the content ids of the released question and choices
    from benchmaker.items import MCQ

    for item in items2:
        assert (
            item.id
            == MCQ(question=item.question, choices=tuple(item.choices), answer_index=item.answer_index).content_id()
        )
        assert item.first_version == 2 and not item.anchor
    manifest = json.loads((v2.path / "release.json").read_text())
    assert manifest["version"] == 2 and manifest["previous_version"] == 1
    assert [s["run_id"] for s in manifest["sources"]] == [second.name, first.name]
    assert manifest["sources"][0]["config_hash"] == json.loads((second / "manifest.json").read_text())["config_hash"]
    assert set(manifest["files"]) >= {
        "items.jsonl",
        "CHANGELOG.md",
        "exports/hf/README.md",
        "exports/mmlu/mult_test.csv",
    }


def test_changelog_lists_new_and_retired_items_and_escapes_generated_text(tmp_path):
    first, second = make_run(tmp_path, 1), make_run(tmp_path, 2)
    release(tmp_path, first)
    v2 = release(tmp_path, second)
    store = ReleaseStore(tmp_path / "outputs", "mult")
    changelog = (v2.path / "CHANGELOG.md").read_text()
    new_section = changelog.split("## New items")[1].split("## Anchors")[0]
    retired_section = changelog.split("## Retired from v1")[1].split("## Dropped")[0]
    assert {i.id for i in store.items(2)} == {i.id for i in store.items(2) if f"`{i.id}`" in new_section}
    assert all(f"`{i.id}`" in retired_section for i in store.items(1))
    assert all(f"`{i.id}`" not in new_section for i in store.items(1))
    assert "## Anchors from v1 (0)" in changelog
    assert md_text("<script>alert(1)</script> | a\nb") == "&lt;script&gt;alert(1)&lt;/script&gt; \\| a b"


def test_anchors_carry_over_and_stay_the_same_set_across_versions(tmp_path):
    settings = HASHING.model_copy(update={"anchors": 2})
    runs = [make_run(tmp_path, seed) for seed in (1, 2, 3)]
    for run in runs:
        assert release(tmp_path, run, settings=settings).published
    store = ReleaseStore(tmp_path / "outputs", "mult")
    v1, v2, v3 = (store.items(v) for v in (1, 2, 3))
    anchors2 = [i for i in v2 if i.anchor]
    anchors3 = [i for i in v3 if i.anchor]
    assert len(anchors2) == 2 and {i.id for i in anchors2} <= {i.id for i in v1}
    assert {i.id for i in anchors3} == {i.id for i in anchors2}  # one common set links every version
    assert all(i.first_version == 1 for i in anchors3)
    diff = diff_items(v2, v3)
    assert {i.id for i in diff.common} == {i.id for i in anchors2}
    published = {normalize_text(i.question) for i in v1 + v2}
    fresh = [q for q in run_questions(runs[2]) if normalize_text(q) not in published]
    assert store.manifest(3).counts.new == len(v3) - 2 == len(fresh) > 0
    assert store.manifest(3).anchors == [i.id for i in anchors3]
    # the gate counts new items only: anchors do not make up for a refresh that brought nothing
    gated = settings.model_copy(update={"gates": GateSettings(min_items=1)})
    refused = release(tmp_path, runs[0], settings=gated)
    assert not refused.published and refused.manifest.counts.anchors == 2 and refused.manifest.counts.new == 0


def test_public_sets_block_exact_ngram_and_near_duplicates(tmp_path):
    run = make_run(tmp_path, 1)
    questions = run_questions(run)
    long_question = (
        "A chemist dissolves exactly twelve grams of sodium chloride in one litre of water at room temperature; "
        "what is the molarity?"
    )
    # one exact repeat (case and spacing differ), one item sharing 13 words with a public item
    public = tmp_path / "public.jsonl"
    rows = [
        {"question": "  " + questions[0].upper() + " ", "choices": ["1", "2"], "answer": 0},
        {"question": "Recall: " + long_question.replace(";", ","), "choices": ["0.2 M", "0.3 M"], "answer": "A"},
    ]
    public.write_text("".join(json.dumps(row) + "\n" for row in rows))
    csv = tmp_path / "mmlu_style.csv"
    csv.write_text('"Unrelated question about history?",a,b,c,d,A\n')
    extra = tmp_path / "extra"
    extra.mkdir()
    run2 = make_run(tmp_path, 2)
    # append a long candidate to the second run so the n-gram rule has something to find
    lines = (run2 / "benchmark.jsonl").read_text().splitlines()
    item = json.loads(lines[0])
    from benchmaker.items import MCQ

    long_item = {**item, "question": long_question}
    long_item["id"] = MCQ(
        question=long_question, choices=tuple(item["choices"]), answer_index=item["answer_index"]
    ).content_id()
    (run2 / "benchmark.jsonl").write_text("\n".join([*lines, json.dumps(long_item)]) + "\n")
    settings = HASHING.model_copy(update={"against": (public, csv)})
    outcome = release(tmp_path, run, run2, settings=settings)
    reasons = {d.question: (d.reason, d.collided_with.origin, d.detail) for d in outcome.manifest.dropped}
    assert reasons[questions[0]] == ("exact_duplicate", "against:public.jsonl", "")
    reason, origin, detail = reasons[long_question]
    assert (reason, origin) == ("ngram_overlap", "against:public.jsonl")
    # normalised by hand: lower case, punctuation deleted
    candidate_words = (
        "a chemist dissolves exactly twelve grams of sodium chloride in one litre of water at room temperature "
        "what is the molarity"
    )
    assert len(detail.split()) == 13
    assert f" {detail} " in f" {candidate_words} " and f" {detail} " in f" recall {candidate_words} "
    assert [a.name for a in outcome.manifest.against] == ["public", "mmlu_style"]
    released = {i.question for i in ReleaseStore(tmp_path / "outputs", "mult").items(1)}
    assert questions[0] not in released and long_question not in released


def test_ngram_rule_needs_a_whole_shared_ngram():
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    assert (
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
    ) in word_ngrams(text, 13)
    assert word_ngrams("One, two; THREE!", 3) == {("one", "two", "three")}
    assert word_ngrams("too short to have one", 13) == set()


class TableEmbedder:
    """Vectors chosen per question, so cosines are known exactly."""

    name = "table"

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = np.array([self.table[text.splitlines()[0]] for text in texts], dtype=float)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _entry(question: str, origin: str = "candidates") -> Entry:
    return Entry(id=question, question=question, choices=("a", "b"), origin=origin)


def test_near_duplicates_are_dropped_at_the_threshold_against_every_source():
    angle = np.deg2rad(18)  # cos 18 deg = 0.951
    table = {
        "old": [1, 0, 0],
        "close to old": [np.cos(angle), np.sin(angle), 0],
        "far": [0, 0, 1],
        "close to far": [0, np.sin(angle), np.cos(angle)],
        "public": [0, 1, 0],
        "near public": [0.1, 1, 0],
    }
    dedup = Deduplicator(
        TableEmbedder(table),
        threshold=0.95,
        ngram=13,
        versions=[_entry("old", "v1")],
        public=[_entry("public", "against:p")],
    )
    kept, dropped = dedup.check([_entry(q) for q in ("close to old", "far", "close to far", "near public")])
    assert [k.question for k in kept] == ["far"]
    found = {d.question: (d.reason, d.collided_with.origin, d.collided_with.id, d.score) for d in dropped}
    assert found["close to old"] == ("near_duplicate", "v1", "old", round(float(np.cos(angle)), 4))
    assert found["close to far"][:3] == ("near_duplicate", "candidates", "far")
    assert found["near public"][:3] == ("near_duplicate", "against:p", "public")
    # just under the threshold is kept
    strict = Deduplicator(TableEmbedder(table), threshold=0.96, ngram=13, versions=[_entry("old", "v1")])
    assert [k.question for k in strict.check([_entry("close to old")])[0]] == ["close to old"]
    # anchors are checked against public sets only
    kept, _ = dedup.check([_entry("old", "v1"), _entry("near public", "v1")], against_versions=False)
    assert [k.question for k in kept] == ["old"]


# -- gates ----------------------------------------------------------------------------------------


def test_program_backed_means_evidence_starting_with_program():
    assert all(is_program_backed(e) for e in ("program", "program+generator", "program+judge"))
    assert not any(is_program_backed(e) for e in ("judge", "generator", "generator+solvers", "human", None, 1))


def _report(run_id: str, *, contamination=None, faithfulness=None, flags=None) -> dict:
    checks = {} if contamination is None else {"contamination": contamination}
    criteria = {} if faithfulness is None else {"faithfulness": faithfulness}
    items = [{"id": i, "flagged": f} for i, f in (flags or {}).items()]
    bench = {"name": "x", "source": f"/somewhere/else/runs/{run_id}", "kind": "generated", "n_items": 4,
             "criteria": criteria, "checks": checks, "items": items}  # fmt: skip
    return {"benchmarks": [bench]}


def test_gates_read_the_quality_report_and_say_what_they_could_not_evaluate():
    settings = GateSettings(min_items=2, min_program_backed_share=0.5, max_contamination=0.25, min_faithfulness=0.6)
    new = [("r1", "a", "program"), ("r1", "b", "judge"), ("r1", "c", "program+judge"), ("r1", "d", "generator")]

    def gates(report):
        quality = summarize_quality(report, ["r1"]) if report is not None else None
        return {g.name: g for g in evaluate_gates(settings, new_items=new, run_ids=["r1"], quality=quality)}

    absent = gates(_report("r1", faithfulness={"status": "ok", "value": 0.7}))
    assert absent["min_items"].status == "passed" and absent["min_items"].value == 4
    assert absent["min_program_backed_share"].status == "passed" and absent["min_program_backed_share"].value == 0.5
    assert absent["max_contamination"].status == "not_evaluated" and not absent["max_contamination"].blocks
    assert "no contamination check" in absent["max_contamination"].reason
    assert absent["min_faithfulness"].status == "passed"

    not_computable = gates(_report("r1", contamination={"status": "not_computable", "reason": "no panel"}))
    assert not_computable["max_contamination"].status == "not_evaluated"
    assert "no panel" in not_computable["max_contamination"].reason
    assert not_computable["min_faithfulness"].status == "failed" and not_computable["min_faithfulness"].blocks

    flags = {"a": ["memorised"], "b": [], "c": ["longest_is_answer", "memorised"], "d": []}
    measured = gates(
        _report(
            "r1", contamination={"status": "ok", "value": 0.5}, faithfulness={"status": "ok", "value": 0.4}, flags=flags
        )
    )
    assert measured["max_contamination"].status == "failed" and measured["max_contamination"].value == 0.5
    assert measured["min_faithfulness"].status == "failed" and measured["min_faithfulness"].value == 0.4

    no_report = gates(None)
    assert no_report["max_contamination"].status == "not_evaluated" and no_report["min_faithfulness"].blocks


def test_a_refused_version_publishes_nothing_and_is_recorded(tmp_path):
    run = make_run(tmp_path, 1)
    settings = HASHING.model_copy(update={"gates": GateSettings(min_items=10)})
    outcome = release(tmp_path, run, settings=settings)
    store = ReleaseStore(tmp_path / "outputs", "mult")
    assert not outcome.published and store.versions() == [] and not (store.root / "v1").exists()
    record = json.loads(outcome.path.read_text())
    assert record["status"] == "failed" and record["version"] == 1
    assert record["failure_reasons"] == ["min_items: 4 new items: 4 not >= 10"]
    assert [(e.event, e.version) for e in store.history()] == [("failed", 1)]
    assert store.failed_attempts(1) == 1


# -- atomic, exclusive, never overwritten ---------------------------------------------------------


def test_an_existing_version_directory_is_never_overwritten(tmp_path):
    run = make_run(tmp_path, 1)
    stray = tmp_path / "outputs" / "releases" / "mult" / "v1"
    stray.mkdir(parents=True)
    (stray / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="never overwritten"):
        release(tmp_path, run)
    assert [p.name for p in stray.iterdir()] == ["keep.txt"]
    assert not [p for p in stray.parent.iterdir() if p.name.startswith(".build-")]


def _create_in_child(tmp_path: str, run_dir: str, barrier, kill_during_exports: bool) -> None:  # noqa: ANN001
    if kill_during_exports:
        import benchmaker.releases.build as build

        def die(directory, context):  # noqa: ANN001, ANN202 - killed after items.jsonl and CHANGELOG.md are written
            os.kill(os.getpid(), signal.SIGKILL)

        build.write_exports = die
    if barrier is not None:
        barrier.wait()
    release(Path(tmp_path), Path(run_dir))


def test_two_concurrent_creates_never_claim_the_same_version(tmp_path):
    run = make_run(tmp_path, 1)
    run2 = make_run(tmp_path, 2)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    children = [
        context.Process(target=_create_in_child, args=(str(tmp_path), str(r), barrier, False)) for r in (run, run2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    store = ReleaseStore(tmp_path / "outputs", "mult")
    assert store.versions() == [1, 2]
    v1, v2 = store.items(1), store.items(2)
    assert {i.id for i in v1}.isdisjoint(i.id for i in v2)
    assert store.manifest(2).previous_version == 1
    assert sorted(e.version for e in store.history() if e.event == "published") == [1, 2]


def test_a_create_killed_halfway_publishes_nothing_and_the_next_one_cleans_up(tmp_path):
    run = make_run(tmp_path, 1)
    child = multiprocessing.get_context("fork").Process(
        target=_create_in_child, args=(str(tmp_path), str(run), None, True)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    root = tmp_path / "outputs" / "releases" / "mult"
    builds = [p for p in root.iterdir() if p.name.startswith(".build-")]
    assert len(builds) == 1 and (builds[0] / "items.jsonl").is_file()  # it died mid-build
    store = ReleaseStore(tmp_path / "outputs", "mult")
    assert store.versions() == [] and not (root / "v1").exists()
    outcome = release(tmp_path, run)
    assert outcome.published and outcome.version == 1
    assert not [p for p in root.iterdir() if p.name.startswith(".build-")]
    assert (root / "v1" / "exports" / "hf" / "README.md").is_file()


# -- refresh planning -----------------------------------------------------------------------------


def test_refresh_seeds_differ_by_version_and_attempt_and_repeat_for_the_same_plan():
    seeds = {derive_seed(3, "mult", v, a) for v in (1, 2, 3) for a in (0, 1)}
    assert len(seeds) == 6 and derive_seed(3, "mult", 2, 0) == derive_seed(3, "mult", 2, 0)
    assert derive_seed(3, "mult", 1, 0) != derive_seed(3, "other", 1, 0) != derive_seed(4, "mult", 1, 0)


def test_refresh_plans_the_next_version_with_a_fresh_seed_after_a_refusal(tmp_path):
    config = write_config(tmp_path, release={"against": ["public.jsonl"], "dedup": {"embedder": "hashing"}})
    with pytest.raises(ConfigError, match="public.jsonl"):
        load_refresh_config(config)
    (tmp_path / "public.jsonl").write_text('{"question": "Unrelated?", "choices": ["a", "b"], "answer": 0}\n')
    _, settings = load_refresh_config(config)
    assert settings.against == (tmp_path / "public.jsonl",)  # relative to the config file
    refresh = Refresh(config, "mult")
    first = refresh.plan()
    assert (first.version, first.attempt, first.seed) == (1, 0, derive_seed(3, "mult", 1, 0))
    assert first.run_config.seed == first.seed
    assert config_hash(first.run_config) == config_hash(first.run_config.model_copy(update={"release": None}))
    run = start_run(first.run_config)
    drive(run)
    refused = refresh.publish(first, [run.store.run_dir], None)
    assert refused.published  # no gate set beyond one item
    second = refresh.plan()
    assert (second.version, second.attempt) == (2, 0)
    refresh.settings = refresh.settings.model_copy(update={"gates": GateSettings(min_items=99)})
    run2 = start_run(second.run_config)
    drive(run2)
    assert not refresh.publish(second, [run2.store.run_dir], None).published
    retry = refresh.plan()
    assert (retry.version, retry.attempt) == (2, 1) and retry.seed not in (first.seed, second.seed)
    events = [(e.event, e.version, e.seed) for e in refresh.store.history()]
    assert events == [
        ("started", 1, first.seed),
        ("published", 1, first.seed),
        ("started", 2, second.seed),
        ("failed", 2, second.seed),
        ("started", 2, retry.seed),
    ]


def test_the_release_section_does_not_change_a_runs_config_hash():
    base = {"requirement": {"description": "x", "n_items": 2}}
    plain = parse_config(base)
    with_release = parse_config({**base, "release": {"anchors": 3, "gates": {"min_items": 5}}})
    assert config_hash(plain) == config_hash(with_release)
    assert with_release.release.gates.min_items == 5
    with pytest.raises(ConfigError, match="release.gates.min_items"):
        parse_config({**base, "release": {"gates": {"min_items": -1}}})


# -- command line ---------------------------------------------------------------------------------


def test_release_commands_create_list_and_diff(tmp_path):
    first, second = make_run(tmp_path, 1), make_run(tmp_path, 2)
    outputs = str(tmp_path / "outputs")
    common = ["--outputs-dir", outputs, "--embedding-model", "hashing"]
    created = runner.invoke(app, ["release", "create", "mult", str(first), *common])
    assert created.exit_code == 0, created.output
    assert created.stdout.strip().splitlines()[-1] == str((tmp_path / "outputs/releases/mult/v1").resolve())
    created = runner.invoke(app, ["release", "create", "mult", str(second), "--anchors", "1", *common])
    seen = {normalize_text(q) for q in run_questions(first)}
    fresh = [q for q in run_questions(second) if normalize_text(q) not in seen]  # the two runs may share a question
    assert created.exit_code == 0
    assert f"mult v2 published: {len(fresh) + 1} items ({len(fresh)} new, 1 anchors)" in created.stdout
    listed = runner.invoke(app, ["release", "list", "mult", "--outputs-dir", outputs])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.stdout.strip().splitlines()] == ["v1", "v2"]
    diffed = runner.invoke(app, ["release", "diff", "mult", "v1", "2", "--outputs-dir", outputs])
    assert diffed.exit_code == 0
    assert diffed.stdout.splitlines()[0] == f"mult v1 -> v2: {len(fresh)} only in v2, 3 only in v1, 1 in both"
    refused = runner.invoke(app, ["release", "create", "mult", str(second), *common])
    assert refused.exit_code == 3 and "NOT published" in refused.stdout and "failed" in refused.stdout.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["release", "create", "../up", "RUN"], "invalid release name"),
        (["release", "list", "nothing-here"], "no release named"),
        (["release", "diff", "mult", "v1", "v9"], "no version v9"),
        (["release", "diff", "mult", "first", "v1"], "invalid version"),
        (["release", "create", "mult", "RUN"], "not a run directory"),
    ],
)
def test_release_commands_fail_in_one_line(tmp_path, args, message):
    run = make_run(tmp_path, 1)
    outputs = str(tmp_path / "outputs")
    release(tmp_path, run)
    args = [str(tmp_path / "missing") if a == "RUN" else a for a in args]
    result = runner.invoke(app, [*args, "--outputs-dir", outputs])
    assert result.exit_code in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output


# -- schedules: what fails before any server is touched ------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--release", "x", "--interval", "5", "--cron", "0 3 * * 1"], 2, "exactly one of --cron and --interval"),
        (["--release", "x"], 2, "exactly one of --cron and --interval"),
        (["--release", "../x", "--interval", "5"], 2, "invalid release name"),
        (["--release", "x", "--interval", "5"], 1, "no Prefect server: run `benchmaker server start`"),
    ],
)
def test_schedule_fails_in_one_line_before_touching_a_server(tmp_path, monkeypatch, args, code, message):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("BENCHMAKER_CACHE_DIR", str(tmp_path / "cache"))  # no server recorded here
    config = write_config(tmp_path)
    result = runner.invoke(app, ["schedule", str(config), *args])
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


def test_server_status_ignores_a_recorded_server_that_is_gone(tmp_path):
    from benchmaker.prefect_server import PrefectServerManager

    manager = PrefectServerManager(tmp_path)
    assert manager.status() is None and manager.stop() is False
    dead = multiprocessing.get_context("fork").Process(target=int)
    dead.start()
    dead.join()
    manager.state_path.write_text(json.dumps({"host": "127.0.0.1", "port": 1, "pid": dead.pid}))
    assert manager.status() is None
    assert manager.stop() is False and not manager.state_path.exists()


def _refresh_in_child(config: str) -> None:
    """The refresh's steps without Prefect (the flow only orchestrates these); killed from outside."""
    refresh = Refresh(Path(config), "killed")
    with refresh.lock():
        plan = refresh.plan()
        run = start_run(plan.run_config, script_dir=refresh.config_dir)
        drive(run)
        refresh.publish(plan, [run.store.run_dir], None)


def test_a_refresh_killed_halfway_publishes_nothing_and_its_retry_replays_what_was_paid(tmp_path):
    (tmp_path / "slow.yaml").write_text("delay_s: 0.3\n")
    models = {"generator": "scripted:slow.yaml", "solver": "scripted", "judge": "scripted", "panel": ["scripted"]}
    config = write_config(
        tmp_path,
        models=models,
        requirement={"description": "Two-digit multiplication.", "n_items": 5},
        release={"dedup": {"embedder": "hashing"}, "scoring": {"enabled": False}},
    )
    child = multiprocessing.get_context("fork").Process(target=_refresh_in_child, args=(str(config),))
    child.start()
    runs = tmp_path / "outputs" / "runs"
    deadline = time.monotonic() + 60
    while sum(len(p.read_text().splitlines()) for p in runs.glob("*/benchmark.jsonl")) < 2:
        assert time.monotonic() < deadline and child.is_alive()
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    store = ReleaseStore(tmp_path / "outputs", "killed")
    assert store.versions() == [] and [e.event for e in store.history()] == ["started"]
    (killed_run,) = runs.iterdir()
    paid = [json.loads(line) for line in (killed_run / "llm_calls.jsonl").read_text().splitlines()]

    time.sleep(1.1)  # run directories are named to the second
    _refresh_in_child(str(config))
    history = store.history()
    assert [e.event for e in history] == ["started", "started", "published"]
    assert history[0].seed == history[1].seed == history[2].seed  # same version, same seed
    (retry_run,) = [p for p in runs.iterdir() if p != killed_run]
    calls = [json.loads(line) for line in (retry_run / "llm_calls.jsonl").read_text().splitlines()]
    cached = {c["request_hash"] for c in calls if c["cached"]}
    assert len(paid) >= 2 and {c["request_hash"] for c in paid} <= cached  # nothing paid twice
    assert store.versions() == [1] and len(store.items(1)) == 5
