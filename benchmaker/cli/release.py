"""benchmaker release create|list|diff|refresh: versioned test sets under outputs/releases/NAME/vN."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchmaker.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_STOPPED,
    app,
    fail,
    prefect_output_to,
    quiet_prefect,
)
from benchmaker.errors import BenchmakerError, ConfigError

release_app = typer.Typer(no_args_is_help=True, help="Versioned releases of a benchmark: create, list, diff, refresh.")
app.add_typer(release_app, name="release")

OutputsDir = Annotated[Path | None, typer.Option("--outputs-dir", help="Where releases live (default: outputs).")]


def _print_outcome(outcome) -> None:  # noqa: ANN001 - a ReleaseOutcome
    manifest = outcome.manifest
    counts = manifest.counts
    verb = "published" if outcome.published else "NOT published"
    typer.echo(
        f"{manifest.name} v{manifest.version} {verb}: {counts.total} items ({counts.new} new, "
        f"{counts.anchors} anchors), {counts.dropped} of {counts.candidates} candidates dropped "
        f"{counts.dropped_by_reason or ''}".rstrip()
    )
    review = manifest.review
    if review is not None and (review.runs or review.human_items or review.anchors_rejected):
        rejected = len(review.rejected) + len(review.anchors_rejected)
        corrected = sum(run.corrected for run in review.runs)
        left = sum(run.left_out_unreviewed for run in review.runs)
        typer.echo(
            f"  reviews: {rejected} rejected items left out, {corrected} published as corrected"
            + (f", {left} unreviewed left out (--only-reviewed)" if left else "")
            + (f"; {review.human_items} human-written candidates" if review.human_items else "")
            + (f"; {len(review.errata)} errata on earlier versions" if review.errata else "")
        )
    for gate in manifest.gates:
        typer.echo(f"  gate {gate.name}: {gate.status} ({gate.reason})")
    typer.echo(str(outcome.path))


@release_app.command("create")
def release_create(
    name: Annotated[str, typer.Argument(help="Release name (letters, digits, '.', '_', '-').")],
    run_dirs: Annotated[list[Path] | None, typer.Argument(help="Finished run directories to release.")] = None,
    against: Annotated[
        list[Path] | None,
        typer.Option("--against", help="Public set (JSONL or MMLU-style CSV) no item may repeat (repeatable)."),
    ] = None,
    anchors: Annotated[
        int | None, typer.Option("--anchors", min=0, help="Items carried over from the previous version.")
    ] = None,
    quality: Annotated[
        Path | None, typer.Option("--quality", help="quality.json of a `benchmaker score` of these runs.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A config whose release: section gives dedup, gates, anchors.")
    ] = None,
    embedding_model: Annotated[
        str | None, typer.Option("--embedding-model", help="Semantic dedup model ('hashing': the offline fake).")
    ] = None,
    only_reviewed: Annotated[
        bool, typer.Option("--only-reviewed", help="Publish only items a reviewer accepted or corrected.")
    ] = False,
    human: Annotated[
        list[Path] | None,
        typer.Option("--human", help="JSONL of human-written items to add (question, choices, answer; repeatable)."),
    ] = None,
    outputs_dir: OutputsDir = None,
) -> None:
    """Make the next version of NAME from RUN_DIRs; the last line printed is the version directory.

    Reviews honoured: items rejected in a run's reviews.jsonl are never published, corrected ones are
    published as corrected (key_evidence human)."""
    from benchmaker.releases.build import ReleaseRequest, create_release
    from benchmaker.releases.refresh import load_refresh_config
    from benchmaker.releases.settings import ReleaseSettings

    try:
        settings, outputs = ReleaseSettings(), Path("outputs")
        if config is not None:
            run_config, settings = load_refresh_config(config)
            outputs = run_config.outputs_dir
        updates: dict[str, object] = {}
        if against:
            updates["against"] = (*settings.against, *against)
        if anchors is not None:
            updates["anchors"] = anchors
        if embedding_model is not None:
            updates["dedup"] = settings.dedup.model_copy(update={"embedder": embedding_model})
        if only_reviewed:
            updates["only_reviewed"] = True
        if human:
            updates["human"] = (*settings.human, *human)
        settings = settings.model_copy(update=updates)
        outcome = create_release(
            ReleaseRequest(
                name=name,
                run_dirs=run_dirs or [],
                settings=settings,
                outputs_dir=outputs_dir or outputs,
                quality_path=quality,
            )
        )
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    _print_outcome(outcome)
    if not outcome.published:
        raise typer.Exit(EXIT_STOPPED)


@release_app.command("list")
def release_list(name: Annotated[str, typer.Argument(help="Release name.")], outputs_dir: OutputsDir = None) -> None:
    """Published versions of NAME, and refreshes that were refused or stopped."""
    from benchmaker.releases.store import ReleaseStore

    try:
        store = ReleaseStore(outputs_dir or Path("outputs"), name)
        versions = store.versions()
        history = store.history()
        if not versions and not history:
            raise ConfigError(f"no release named {name!r} under {store.root.parent}")
        for version in versions:
            manifest = store.manifest(version)
            counts = manifest.counts
            gates = ", ".join(f"{g.name} {g.status}" for g in manifest.gates)
            typer.echo(
                f"v{version}  {manifest.created_at}  {manifest.kind:<7}  {counts.total} items "
                f"({counts.new} new, {counts.anchors} anchors, {counts.retired} retired, {counts.dropped} dropped)  "
                f"{gates}"
            )
        for entry in history:
            if entry.event in ("failed", "error"):
                typer.echo(f"refused v{entry.version}  {entry.at}  {entry.event}: {'; '.join(entry.reasons)}")
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)


@release_app.command("diff")
def release_diff(
    name: Annotated[str, typer.Argument(help="Release name.")],
    old: Annotated[str, typer.Argument(help="A version, e.g. v1.")],
    new: Annotated[str, typer.Argument(help="Another version, e.g. v2.")],
    outputs_dir: OutputsDir = None,
) -> None:
    """Items only in one version or in both."""
    from benchmaker.releases.changelog import diff_items, render_diff
    from benchmaker.releases.store import ReleaseStore

    try:
        store = ReleaseStore(outputs_dir or Path("outputs"), name)
        a, b = store.resolve_version(old), store.resolve_version(new)
        typer.echo(render_diff(name, a, b, diff_items(store.items(a), store.items(b))))
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)


@release_app.command("refresh")
def release_refresh(
    name: Annotated[str, typer.Argument(help="Release name.")],
    config: Annotated[Path, typer.Option("--config", help="The run config (with its release: section).")],
    outputs_dir: OutputsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """One refresh now: generate, score, dedup, gate, publish the next version (or record why not)."""
    quiet_prefect()
    from benchmaker.releases.refresh import Refresh

    try:
        refresh = Refresh(config, name, outputs_dir=outputs_dir)  # validates config and name before Prefect starts
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    from flows.refresh import refresh_benchmark

    try:
        with prefect_output_to(Path(refresh.config.outputs_dir) / "logs" / "prefect.log"):
            state = refresh_benchmark(
                config_path=str(config.resolve()),
                release=name,
                outputs_dir=str(outputs_dir.resolve()) if outputs_dir else None,
                show_progress=not quiet,
                return_state=True,
            )
    except BenchmakerError as error:
        fail(str(error), EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("interrupted; nothing was published", err=True)
        raise typer.Exit(130) from None
    result = state.result(raise_on_failure=False)
    summary = result if isinstance(result, dict) else None
    if summary is None:
        fail(f"the refresh ended {state.type.value}: {state.message}", EXIT_ERROR)
    typer.echo(f"run: {summary['run_dir']} (seed {summary['seed']})")
    typer.echo(state.message)
    for reason in summary["reasons"]:
        typer.echo(f"  {reason}")
    typer.echo(summary["path"])
    if not summary["published"]:
        raise typer.Exit(EXIT_STOPPED)
