"""The memorisation check: word splits, ROUGE-L and exact match with known answers, and the check end to end
on scripted models that have, or have not, memorised a benchmark."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml

from benchmaker.config import Budget, LLMSettings, ModelSpec
from benchmaker.embeddings import HashingEmbedder
from benchmaker.llm.factory import build_role_model, supports_raw_completion
from benchmaker.llm.litellm_client import LiteLLMClient
from benchmaker.llm.meter import Meter
from benchmaker.llm.types import LLMRequest, Message
from benchmaker.prompts import PromptLibrary
from benchmaker.scoring.contamination import run_unit
from benchmaker.scoring.contamination_report import contamination_gate, memorised_ids
from benchmaker.scoring.job import ScoreJob
from benchmaker.scoring.quality import build_report
from benchmaker.scoring.settings import ScoreSettings
from benchmaker.scoring.text_overlap import continuation_words, exact_match, rouge_l, split_at_fraction, words

# -------------------- words, ROUGE-L, exact match


def test_split_cuts_on_word_boundaries():
    split = split_at_fraction("What is the boiling point of water at sea level?", 0.4)
    # 10 words, 40% -> 4 words; the prefix ends right after a word, the rest keeps its spacing
    assert split.prefix == "What is the boiling"
    assert split.remainder == " point of water at sea level?"
    assert (split.prefix_words, split.remainder_words) == (4, 6)
    assert split_at_fraction("Why?", 0.5) is None
    # rounding: 7 words at 80% -> round(5.6) = 6 words, never all of them
    assert split_at_fraction("one two three four five six seven", 0.8).remainder == " seven"
    assert split_at_fraction("one two", 0.9).prefix == "one"


def test_split_counts_each_chinese_character_as_a_word():
    split = split_at_fraction("水在海平面的沸点是多少度？", 0.6)
    # 12 characters are words (the full-width question mark is not): 60% -> round(7.2) = 7
    assert split.prefix == "水在海平面的沸"
    assert split.remainder == "点是多少度？"
    assert words(split.remainder) == ["点", "是", "多", "少", "度"]


@pytest.mark.parametrize(
    ("reference", "candidate", "expected"),
    [
        # LCS "the cat on the mat" = 5 of 6 reference and 6 candidate words: P = R = 5/6
        ("the cat sat on the mat", "the cat lay on the mat", 5 / 6),
        # LCS 2 ("of", "water"): P = 2/3, R = 2/4, F1 = 2PR / (P + R) = 4/7
        ("boiling point of water", "of pure water", 4 / 7),
        ("Point of water!", "point OF water", 1.0),  # case and punctuation do not count
        ("one two three", "four five six", 0.0),
        # Chinese, one word per character: LCS "沸点是" (3) of 5 and 4 characters: F1 = 6/9
        ("沸点是多少", "沸点是几", 2 * 3 / 9),
        ("", "anything", 0.0),
    ],
)
def test_rouge_l_known_values(reference, candidate, expected):
    assert rouge_l(words(reference), words(candidate)) == pytest.approx(expected)


def test_rouge_l_of_chinese_is_not_zero_as_rouge_score_alone_would_give():
    from rouge_score import rouge_scorer

    plain = rouge_scorer.RougeScorer(["rougeL"]).score("沸点是多少", "沸点是多少")["rougeL"].fmeasure
    assert plain == 0.0  # its tokenizer keeps [a-z0-9] only
    assert rouge_l(words("沸点是多少"), words("沸点是多少")) == 1.0


def test_exact_match_on_normalised_words():
    assert exact_match(words(" point of WATER at sea level?"), words("point of water at sea-level"))
    assert exact_match(words("水的沸点"), words("水的 沸点。"))
    assert not exact_match(words("point of water"), words("point of pure water"))
    assert not exact_match([], [])


def test_continuation_drops_a_restated_prefix_and_keeps_as_many_words_as_the_remainder():
    said = continuation_words("What is the boiling point of water at sea level? It is 100 C.", "What is the boiling", 6)
    assert said == ["point", "of", "water", "at", "sea", "level"]


# -------------------- the LLM seam: raw completion


def test_text_requests_hash_apart_and_chat_hashes_are_unchanged():
    import hashlib

    chat = LLMRequest(model="m", messages=(Message(role="user", content="hi"),), temperature=0.0)
    # the hash chat requests had before raw completion existed (same payload, same canonical JSON)
    payload = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.0,
        "max_tokens": None,
        "n": 1,
        "seed": None,
        "response_schema": None,
        "sample_key": "",
        "endpoint": "",
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert chat.content_hash() == hashlib.sha256(canonical.encode()).hexdigest()
    text = LLMRequest(model="m", kind="text", prompt="hi", temperature=0.0)
    assert text.content_hash() != chat.content_hash()
    assert text.content_hash() != text.model_copy(update={"prompt": "hi!"}).content_hash()
    with pytest.raises(ValueError, match="prompt"):
        LLMRequest(model="m", kind="text", messages=(Message(role="user", content="hi"),))
    with pytest.raises(ValueError, match="message"):
        LLMRequest(model="m")


class _CompletionsServer(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        reply = {
            "id": "c1",
            "object": "text_completion",
            "created": 0,
            "model": body.get("model", "x"),
            "choices": [{"index": 0, "text": " point of water", "finish_reason": "length", "logprobs": None}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.mark.slow  # litellm's first text completion in a process loads its providers: ~5 s
def test_raw_completion_posts_the_bare_prompt_to_v1_completions():
    server = HTTPServer(("127.0.0.1", 0), _CompletionsServer)  # a free port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = LiteLLMClient(
            litellm_model="openai/local", api_base=f"http://127.0.0.1:{server.server_port}/v1", api_key="x", free=True
        )
        request = LLMRequest(model="local", kind="text", prompt="What is the boiling", max_tokens=12, temperature=0)
        completion = client.complete(request)
    finally:
        server.shutdown()
    path, body = _CompletionsServer.seen[-1]
    assert path == "/v1/completions"
    assert body["prompt"] == "What is the boiling" and "messages" not in body
    assert body["max_tokens"] == 12
    assert completion.text == " point of water"
    assert completion.usage.output_tokens == 3


def test_which_models_get_raw_completion():
    assert supports_raw_completion(ModelSpec(model="local"))
    assert supports_raw_completion(ModelSpec(model="scripted"))
    assert supports_raw_completion(ModelSpec(model="openai/my-server-model", api_base="http://127.0.0.1:1/v1"))
    assert supports_raw_completion(ModelSpec(model="gpt-3.5-turbo-instruct"))
    assert not supports_raw_completion(ModelSpec(model="gpt-4o-mini"))
    assert not supports_raw_completion(ModelSpec(model="anthropic/claude-3-5-haiku-latest"))


# -------------------- the check end to end on scripted models

QUESTIONS = [  # 20 words or more, so that 80% of the words still leaves 4 to complete
    (
        "Which gas makes up about seventy eight percent of the air that we breathe at sea level on a dry day?",
        "Nitrogen",
    ),
    ("How many chambers does the heart of a healthy adult human being have in total, as a doctor counts them?", "Four"),
    (
        "Which organelle is known in biology textbooks as the place where most of a cell's chemical energy is made?",
        "Mitochondrion",
    ),
    (
        "What is the chemical symbol that the periodic table of the elements gives to the soft reactive metal sodium?",
        "Na",
    ),
    (
        "Which planet of our solar system is the largest one by both its mass and its volume, as probes measured?",
        "Jupiter",
    ),
    (
        "What name do chemists give to a water solution whose pH is below seven when measured at room temperature?",
        "Acidic",
    ),
]
DISTRACTORS = ["Oxygen", "Two", "Ribosome", "So", "Saturn", "Basic", "Argon", "Three", "Nucleus", "Sd"]


def _set(tmp_path):
    rows = []
    for i, (question, key) in enumerate(QUESTIONS):
        choices = [DISTRACTORS[i], key, DISTRACTORS[i + 4]]
        rows.append({"id": f"q{i}", "question": question, "choices": choices, "answer": 1})
    path = tmp_path / "public.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _model(tmp_path, name, memorised):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"memorised": memorised}))
    return f"scripted:{path}"


def _score(paths, panel, tmp_path, **contamination):
    settings = ScoreSettings(
        panel=[{"model": m} for m in panel],
        judge=None,
        choices_only=False,
        outputs_dir=tmp_path / "out",
        embedding_model="hashing",
        contamination=contamination,
    )
    job = ScoreJob(paths, settings)
    roles, _, meter = job.open_models(None)
    prompts = PromptLibrary()
    for unit in job.contamination_units():
        job.record_contamination(run_unit(unit, roles[unit.model], prompts, settings.contamination, settings.seed))
    return job, build_report(job, HashingEmbedder(), usage=meter.snapshot().model_dump())


@pytest.mark.parametrize("mode", ["auto", "chat"])
def test_a_model_that_memorised_the_set_flags_every_item_and_one_that_did_not_flags_none(tmp_path, mode):
    public = _set(tmp_path)
    recalls = _model(tmp_path, "recalls", [{"text": q, "answer": k} for q, k in QUESTIONS])
    fresh = _model(tmp_path, "fresh", [])
    job, report = _score([public], [recalls, fresh], tmp_path, mode=mode)
    check = report.benchmarks[0].checks["contamination"]
    assert check.status == "ok"
    assert check.value == 1.0 and check.details["n_flagged"] == check.details["n_testable"] == len(QUESTIONS)
    assert all("memorised" in item.flagged for item in report.benchmarks[0].items)
    assert all(item.memorisation_rouge_l == 1.0 for item in report.benchmarks[0].items)
    models = check.details["models"]
    expected_mode = "raw_completion" if mode == "auto" else "chat_continue"
    assert models[recalls]["mode"] == models[fresh]["mode"] == expected_mode
    assert models[recalls]["flagged"] == len(QUESTIONS) and models[fresh]["flagged"] == 0
    for fraction in ("0.4", "0.6", "0.8"):
        recalled, not_recalled = models[recalls]["by_fraction"][fraction], models[fresh]["by_fraction"][fraction]
        assert recalled["rouge_l"]["value"] == 1.0 and recalled["exact_match"]["value"] == 1.0
        assert recalled["prefix_answer_accuracy"]["value"] == 1.0
        assert not_recalled["exact_match"]["value"] == 0.0
        assert not_recalled["rouge_l"]["ci_high"] < 0.75
        for entry in (recalled["rouge_l"], not_recalled["rouge_l"], recalled["exact_match"]):
            assert 0 <= entry["ci_low"] <= entry["value"] <= entry["ci_high"] <= 1
    assert memorised_ids(report.benchmarks[0]) == {f"q{i}" for i in range(len(QUESTIONS))}


def test_a_model_that_memorised_nothing_flags_nothing(tmp_path):
    job, report = _score([_set(tmp_path)], [_model(tmp_path, "fresh", [])], tmp_path)
    quality = report.benchmarks[0]
    assert quality.checks["contamination"].value == 0.0
    assert not any("memorised" in item.flagged for item in quality.items)
    assert contamination_gate(quality, 0.0) == (
        True,
        f"{quality.name}: 0.0% of items memorised, within the limit of 0.0%",
    )


def test_the_gate_refuses_above_the_rate_and_when_the_check_is_missing(tmp_path):
    # half the set memorised
    half = _model(tmp_path, "half", [q for q, _ in QUESTIONS[:3]])
    _, report = _score([_set(tmp_path)], [half], tmp_path)
    quality = report.benchmarks[0]
    assert quality.checks["contamination"].value == 0.5
    assert memorised_ids(quality) == {"q0", "q1", "q2"}
    assert contamination_gate(quality, 0.6)[0] and not contamination_gate(quality, 0.4)[0]
    _, off = _score([_set(tmp_path)], [half], tmp_path / "off", enabled=False)
    ok, why = contamination_gate(off.benchmarks[0], 1.0)
    assert not ok and "disabled" in why


def test_short_remainders_are_not_asked(tmp_path):
    path = tmp_path / "short.jsonl"
    path.write_text(json.dumps({"question": "Two plus two equals what?", "choices": ["4", "5"], "answer": 0}) + "\n")
    job, report = _score([path], [_model(tmp_path, "x", [])], tmp_path)
    check = report.benchmarks[0].checks["contamination"]
    # 5 words: every cut leaves fewer than 4 words after it
    assert check.status == "not_computable" and "long enough" in check.reason
    assert job.contamination_records == {}


def test_the_positive_control_fires_on_text_shown_in_context(tmp_path):
    """A model that memorised nothing still completes a question it was just shown (it copies from context)."""
    from benchmaker.scoring.benchmarks import load_benchmark
    from benchmaker.scoring.contamination import ContaminationSettings, units_for

    bench = load_benchmark(_set(tmp_path))
    meter = Meter(Budget())
    role = build_role_model(
        "examinee", ModelSpec(model="scripted"), settings=LLMSettings(), meter=meter, sink=None, cache_dir=None
    )
    settings = ContaminationSettings()
    item = bench.items[0]
    context = "\n\n".join([bench.items[1].question, item.question, bench.items[2].question])
    shown = [
        run_unit(u, role, PromptLibrary(), settings, 0)
        for u in units_for("c", [item], {"scripted": "raw_completion"}, settings, context)
    ]
    unseen = [
        run_unit(u, role, PromptLibrary(), settings, 0)
        for u in units_for("c", [item], {"scripted": "raw_completion"}, settings)
    ]
    assert [r.check for r in shown] == ["complete"] * 3  # no answer check in the control
    assert all(r.exact and r.rouge_l == 1.0 for r in shown)
    assert not any(r.exact for r in unseen if r.check == "complete")


def test_self_generated_benchmark_is_marked_as_a_biased_control(tmp_path):
    from benchmaker.run import start_run
    from tests.conftest import drive
    from tests.test_generation import config as generation_config

    run = start_run(generation_config(tmp_path, requirement={"description": "Multiplication.", "n_items": 4}))
    drive(run)
    _, report = _score([run.store.run_dir], ["scripted"], tmp_path)
    check = report.benchmarks[0].checks["contamination"]
    assert check.details["models"]["scripted"]["self_generated"] is True
    assert "biased" in check.warning


def test_the_report_shows_rouge_by_fraction_generated_beside_public(tmp_path):
    from benchmaker.run import start_run
    from benchmaker.scoring.html_report import render_report
    from tests.conftest import drive
    from tests.test_generation import config as generation_config

    run = start_run(generation_config(tmp_path, requirement={"description": "Multiplication.", "n_items": 4}))
    drive(run)
    hostile = [{"text": q, "answer": k} for q, k in QUESTIONS]
    _, report = _score([run.store.run_dir, _set(tmp_path)], [_model(tmp_path, "<i>recalls", hostile)], tmp_path)
    html = render_report(report)
    section = html.split('<section id="memorisation">')[1].split("</section>")[0]
    assert "<svg" in section and "ROUGE-L" in section
    assert section.count("<tr>") == 1 + 2 * 3  # header + 2 benchmarks x 3 fractions, one model
    assert "&lt;i&gt;recalls" in section and "<i>recalls" not in html
    assert html.count('<span class="flag">memorised</span>') >= len(QUESTIONS)


@pytest.mark.slow  # two CLI processes
def test_score_flags_fail_in_one_line_before_any_work(tmp_path):
    from tests.test_cli import cli

    public = _set(tmp_path)
    result = cli("score", str(public), "--contamination-mode", "sometimes", "-q")
    assert result.returncode == 2 and "contamination.mode" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli("score", str(public), "--calibrate", str(tmp_path / "none.jsonl"), "-q")
    assert result.returncode == 1 and "none.jsonl" in result.stderr and "Traceback" not in result.stderr
