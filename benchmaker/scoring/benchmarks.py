"""Loading any benchmark to score: a benchmaker run directory, a JSONL file, or an MMLU-style CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from benchmaker.config import LETTERS, format_validation_error
from benchmaker.errors import BenchmakerError
from benchmaker.items import MCQ, BenchmarkItem
from benchmaker.paths import safe_component
from benchmaker.review.log import REVIEWS, read_decisions, states
from benchmaker.review.models import ItemContent, ItemState
from benchmaker.review.stats import review_summary
from benchmaker.safe_load import parse_json, read_text
from benchmaker.store import BENCHMARK, MANIFEST, RunStore


class BenchmarkLoadError(BenchmakerError):
    """A benchmark file or run directory cannot be read as multiple-choice items."""


class ScoredItem(BaseModel):
    """An item as the scorer sees it, whatever its origin."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    choices: tuple[str, ...]
    answer_index: int
    difficulty: float | None = None
    explanation: str | None = None
    key_evidence: str | None = None
    """What backs a generated item's key, as the run recorded it (e.g. program+generator; None: not recorded)."""
    review_status: str | None = None
    """A run's item: unreviewed, accepted, corrected or rejected (``benchmaker review``); None otherwise."""

    @property
    def answer(self) -> str:
        return LETTERS[self.answer_index]


class SkippedItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line: int
    reason: str


class LoadedBenchmark(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str
    kind: Literal["generated", "imported"]
    items: tuple[ScoredItem, ...] = Field(min_length=1)
    requirement: str | None = None
    skipped: tuple[SkippedItem, ...] = ()
    """Imported items that are not valid MCQs (duplicate or blank options...): left out, and reported."""
    generation_summary: dict[str, Any] | None = None
    """The run's summary from its manifest (usage, wall time): the efficiency criterion's input."""
    generator_model: str | None = None
    """The model that wrote a generated benchmark (a panel model completing its own text is a biased control)."""
    call_log: str | None = None
    """The run's ``llm_calls.jsonl`` (every call, cached or not, across sessions), for efficiency."""
    review: dict[str, Any] | None = None
    """A reviewed run's review summary (statuses, overturns per evidence level); None without reviews.jsonl."""


class ImportedLine(BaseModel):
    """One line of an imported JSONL: ``answer`` is a letter or a 0-based index, nothing else (strict:
    ``true`` is not read as index 1, nor ``"1"`` as a number)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: StrictStr | StrictInt | None = None
    question: StrictStr
    choices: list[StrictStr]
    answer: StrictStr | StrictInt
    difficulty: StrictFloat | StrictInt | None = None


def _answer_index(answer: str | int, n_choices: int) -> int:
    if isinstance(answer, int):
        index = answer
    elif len(answer.strip()) == 1 and answer.strip().upper() in LETTERS:
        index = LETTERS.index(answer.strip().upper())
    else:
        raise ValueError(f"answer {answer!r} is neither a letter A-J nor a 0-based index")
    if not 0 <= index < n_choices:
        raise ValueError(f"answer {answer!r} is out of range for {n_choices} choices")
    return index


def _item(raw_id: str, question: str, choices: list[str], answer: str | int, **extra: Any) -> ScoredItem:
    index = _answer_index(answer, len(choices))
    MCQ(question=question, choices=tuple(choices), answer_index=index)  # the same validation as generation
    return ScoredItem(id=raw_id, question=question, choices=tuple(choices), answer_index=index, **extra)


def _review_states(run_dir: Path, items: list[BenchmarkItem]) -> dict[str, ItemState] | None:
    """Each item's review state, or None when the run was never reviewed. Scores use the items as
    generated (benchmark.jsonl); the review is reported beside them."""
    if not (run_dir / REVIEWS).is_file():
        return None
    return states(read_decisions(run_dir / REVIEWS), {item.id: _content(item) for item in items})


def _review_summary(items: list[BenchmarkItem], reviews: dict[str, ItemState]) -> dict[str, Any]:
    return review_summary((_text_or_none(item.metadata.get("key_evidence")), reviews[item.id]) for item in items)


def _content(item: BenchmarkItem) -> ItemContent:
    return ItemContent(question=item.question, choices=item.choices, answer_index=item.answer_index)


def _load_run(run_dir: Path) -> LoadedBenchmark:
    store = RunStore.open(run_dir)
    manifest = store.manifest()
    try:
        generated = store.items()
        reviews = _review_states(run_dir, generated)
        items = [
            ScoredItem(
                id=item.id,
                question=item.question,
                choices=tuple(item.choices),
                answer_index=item.answer_index,
                difficulty=item.metadata.get("difficulty"),
                explanation=_solution(item.metadata),
                key_evidence=_text_or_none(item.metadata.get("key_evidence")),
                review_status=reviews[item.id].status if reviews is not None else None,
            )
            for item in generated
        ]
    except ValidationError as error:  # a run directory is untrusted input: its metadata too
        raise BenchmarkLoadError(f"{run_dir}: {format_validation_error(error)}") from None
    if not items:
        raise BenchmarkLoadError(f"{run_dir}: the run has no accepted items ({BENCHMARK} is empty)")
    config = manifest.get("config", {})
    requirement = config.get("requirement") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(requirement, dict | None):
        raise BenchmarkLoadError(f"{run_dir}: the manifest's config is not a mapping")
    description = (requirement or {}).get("description")
    models = config.get("models")
    generator = models.get("generator") if isinstance(models, dict) else None
    calls = run_dir / "llm_calls.jsonl"
    try:
        return LoadedBenchmark(
            # The manifest is untrusted: its method names the job directory, so it must be a plain word.
            name=f"{safe_component(str(config.get('method', 'run')), 'run')}:{run_dir.name}",
            source=str(run_dir),
            kind="generated",
            items=tuple(items),
            requirement=description,
            generation_summary=manifest.get("summary"),
            generator_model=_text_or_none(generator.get("model") if isinstance(generator, dict) else generator),
            call_log=str(calls) if calls.is_file() else None,
            review=None if reviews is None else _review_summary(generated, reviews),
        )
    except ValidationError as error:
        raise BenchmarkLoadError(f"{run_dir}: manifest: {format_validation_error(error)}") from None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _solution(metadata: dict[str, Any]) -> str | None:
    """What the faithfulness judge is shown as the item's worked answer.

    ``solution`` argues for the final key in the final option order (it follows relabelled keys and
    shuffled options); older runs only have the generator's ``explanation``, written for its own order.
    """
    return _text_or_none(metadata.get("solution")) or _text_or_none(metadata.get("explanation"))


def _reason(error: ValueError) -> str:
    return format_validation_error(error) if isinstance(error, ValidationError) else str(error)


def _load_jsonl(path: Path) -> LoadedBenchmark:
    """A malformed line (not JSON, fields missing) is an error; a line that is well-formed but not a
    valid MCQ (duplicate options, answer out of range) is skipped and reported with its reason."""
    items, skipped = [], []
    for number, line in enumerate(read_text(path, "benchmark", BenchmarkLoadError).splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = ImportedLine.model_validate(parse_json(line, f"{path}:{number}", BenchmarkLoadError))
        except ValidationError as error:
            raise BenchmarkLoadError(f"{path}:{number}: {format_validation_error(error)}") from None
        try:
            items.append(
                _item(
                    str(raw.id if raw.id is not None else f"{path.stem}-{number}"),
                    raw.question,
                    raw.choices,
                    raw.answer,
                    difficulty=raw.difficulty,
                )
            )
        except ValueError as error:
            skipped.append(SkippedItem(line=number, reason=_reason(error)))
    return _imported(path, items, skipped)


def _load_mmlu_csv(path: Path) -> LoadedBenchmark:
    """MMLU's layout: ``question, A, B, C, D, answer-letter`` with no header."""
    items, skipped = [], []
    text = read_text(path, "benchmark", BenchmarkLoadError)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise BenchmarkLoadError(f"{path}: not a readable CSV ({error})") from None
    for number, row in enumerate(rows, 1):
        if len(row) < 4:
            raise BenchmarkLoadError(f"{path}:{number}: expected question, choices..., answer")
        try:
            items.append(_item(f"{path.stem}-{number}", row[0], row[1:-1], row[-1]))
        except ValueError as error:
            skipped.append(SkippedItem(line=number, reason=_reason(error)))
    return _imported(path, items, skipped)


def _imported(path: Path, items: list[ScoredItem], skipped: list[SkippedItem]) -> LoadedBenchmark:
    if not items:
        raise BenchmarkLoadError(f"{path}: no valid items" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return LoadedBenchmark(
        name=path.stem, source=str(path), kind="imported", items=tuple(items), skipped=tuple(skipped)
    )


def load_benchmark(path: Path, limit: int | None = None) -> LoadedBenchmark:
    """Load a run directory, a ``.jsonl`` or an MMLU-style ``.csv``; ``limit`` keeps the first items."""
    if not path.exists():
        raise BenchmarkLoadError(f"{path}: no such file or directory")
    if path.is_dir():
        if not (path / MANIFEST).exists():
            raise BenchmarkLoadError(f"{path}: a directory must be a benchmaker run (no {MANIFEST})")
        loaded = _load_run(path)
    elif path.suffix == ".jsonl":
        loaded = _load_jsonl(path)
    elif path.suffix == ".csv":
        loaded = _load_mmlu_csv(path)
    else:
        raise BenchmarkLoadError(f"{path}: expected a run directory, a .jsonl or an MMLU-style .csv")
    if limit is not None:
        loaded = loaded.model_copy(update={"items": loaded.items[:limit]})
    return loaded
