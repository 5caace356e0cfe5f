"""From the chosen candidate to a draft or a rejection: the checks a draft must pass before it becomes an item.

In order: the draft's wording (one thing asked), its key checked by programs (computable requirements), the
judge's focused reading (one thing asked, choices that answer it, the requirement's constraints), self
test-taking (difficulty label; for a key no program backs, the solvers confirm it or the judge decides), and
the run's evidence policy. Each step is where it is cheapest: nothing is paid for a draft an earlier, cheaper
step has already turned down.
"""

from __future__ import annotations

from typing import Any

from benchmaker.evidence import accepted_levels
from benchmaker.items import MCQ, Draft, Rejection
from benchmaker.methods.base import GenerationContext, attempt_seed
from benchmaker.methods.benchmaker.adaptive import schedule, settled
from benchmaker.methods.benchmaker.candidates import Candidate
from benchmaker.methods.benchmaker.demand import DemandAnalysis
from benchmaker.methods.benchmaker.discrimination import Discrimination, discriminate, letter_free, solution_text
from benchmaker.methods.benchmaker.draft_checks import PROMPT_ID as DRAFT_CHECK_ID
from benchmaker.methods.benchmaker.draft_checks import check_draft, several_requests
from benchmaker.methods.benchmaker.program_keys import Judge, program_key
from benchmaker.methods.benchmaker.self_test import SelfTest, take_test
from benchmaker.methods.benchmaker.value_first import build_around_value


class DraftVerifier:
    def __init__(self, context: GenerationContext, demand: DemandAnalysis | None, program_verification: bool) -> None:
        self.config = context.config
        self.settings = context.config.benchmaker
        self.steps = self.settings.steps
        self.models = context.models
        self.prompts = context.prompts
        self.demand = demand
        self.program_verification = program_verification

    def verify(self, attempt: int, chosen: Candidate, metadata: dict[str, Any]) -> Draft | Rejection:
        """A draft, or its rejection; a rejection after the programs ran keeps their record as evidence, so the
        run's program summary counts every draft the programs checked."""
        outcome = self._verify(attempt, chosen, metadata)
        if isinstance(outcome, Rejection) and "program" in metadata and "program" not in outcome.evidence:
            outcome = outcome.model_copy(update={"evidence": {**outcome.evidence, "program": metadata["program"]}})
        return outcome

    def _verify(self, attempt: int, chosen: Candidate, metadata: dict[str, Any]) -> Draft | Rejection:
        """The draft checked against the requirement, its key checked by programs (computable requirements),
        the draft read by the judge, self test-taking, discrimination when the solvers disagree with a key no
        program backs, and the run's evidence policy."""
        settings, steps, checks = self.settings, self.steps, self.settings.checks
        option_fields: dict[str, list[int | None]] = {}
        if chosen.value:
            metadata["generator_value"] = chosen.value
        if checks.single_question and (why := several_requests(chosen.question)):
            draft = chosen.mcq
            return Rejection(attempt=attempt, stage="check", reason="asks_several_things", detail=why, draft=draft)
        if chosen.mcq is None:  # a stem: its choices are built around the programs' value
            built = build_around_value(
                model=self.models["generator"],
                prompts=self.prompts,
                settings=settings.program,
                stem=chosen,
                n_options=self.config.requirement.n_options,
                constraints=self.demand.constraints if self.demand is not None else [],
                seed=attempt_seed(self.config.seed, attempt, "program"),
                sample_key=f"seed={self.config.seed}|attempt={attempt}|programs",
                attempt=attempt,
                max_repairs=self.config.generation.max_repairs,
                metadata=metadata,
            )
            if isinstance(built, Rejection):
                return built
            mcq, evidence, solution = built.mcq, built.evidence, built.solution
            option_fields["program_option"] = [0]
            if evidence == "program+solvers" and not steps.self_test:
                return Rejection(
                    attempt=attempt, stage="program", reason="program_unconfirmed", draft=mcq,
                    detail="the generator's own value differs from the programs' and no solver can confirm it",
                )  # fmt: skip
        else:
            mcq = chosen.mcq
            option_fields["generator_key"] = [mcq.answer_index]
            evidence, solution = "generator", letter_free(chosen.reasoning, mcq.choices)
            if self.program_verification:
                keyed = program_key(
                    model=self.models["generator"],
                    prompts=self.prompts,
                    settings=settings.program,
                    chosen=chosen,
                    seed=attempt_seed(self.config.seed, attempt, "program"),
                    sample_key=f"seed={self.config.seed}|attempt={attempt}|programs",
                    attempt=attempt,
                    max_repairs=self.config.generation.max_repairs,
                    judge=self._judge_for(attempt, metadata) if steps.discrimination else None,
                    metadata=metadata,
                    option_fields=option_fields,
                )
                if isinstance(keyed, Rejection):
                    return keyed
                mcq, evidence, solution = keyed.mcq, keyed.evidence, keyed.solution
        if self._checks_on:
            refused = self._check_draft(attempt, mcq, metadata)
            if refused is not None:
                return refused
        if steps.self_test:
            tested = self._take_test(attempt, chosen, mcq, evidence, metadata, option_fields)
            if isinstance(tested, Rejection):
                return tested
            mcq, evidence, solution = tested[0], tested[1], tested[2] or solution
        else:
            metadata["difficulty"] = None
        metadata.update(key_evidence=evidence, solution=solution)
        accepted = accepted_levels(settings.key_evidence, self.program_verification)
        if evidence not in accepted:
            return Rejection(
                attempt=attempt, stage="policy", reason="evidence_not_accepted", draft=mcq,
                detail=f"key evidence {evidence!r}; this run accepts {', '.join(accepted)}",
            )  # fmt: skip
        return Draft(attempt=attempt, mcq=mcq, metadata=metadata, option_fields=option_fields)

    @property
    def _checks_on(self) -> bool:
        checks = self.settings.checks
        return checks.single_question or checks.constraints

    def _check_draft(self, attempt: int, mcq: MCQ, metadata: dict[str, Any]) -> Rejection | None:
        """The judge's focused reading: one thing asked, choices that answer it, the requirement's constraints."""
        checks = self.settings.checks
        demand = self.demand
        metadata["prompts"][DRAFT_CHECK_ID] = self.prompts.get(DRAFT_CHECK_ID).ref
        checked = check_draft(
            self.models["judge"],
            self.prompts,
            mcq,
            requirement=self.config.requirement.description,
            constraints=demand.constraints if demand is not None else [],
            single_question=checks.single_question,
            check_constraints=checks.constraints,
            votes=checks.votes,
            seed=attempt_seed(self.config.seed, attempt, "check"),
            sample_key=f"seed={self.config.seed}|attempt={attempt}|check",
            attempt=attempt,
        )
        metadata["draft_check"] = {"verdict": checked.verdict, **({"note": checked.detail} if checked.passed else {})}
        if checked.passed:
            return None
        return Rejection(
            attempt=attempt, stage="check", reason=checked.reason, detail=checked.detail, draft=mcq,
            evidence={"draft_check": checked.verdict},
        )  # fmt: skip

    def _take_test(
        self,
        attempt: int,
        chosen: Candidate,
        mcq: MCQ,
        evidence: str,
        metadata: dict[str, Any],
        option_fields: dict[str, list[int | None]],
    ) -> tuple[MCQ, str, str | None] | Rejection:
        """Self test-taking labels the difficulty. For a key only the generator backs, the solvers either
        confirm it (generator+solvers) or, on a conflict, the judge decides (judge). Returns the item, its
        evidence and, when the key changed hands, the solution that argues for the new one."""
        settings, steps = self.settings, self.steps
        solver = self.models["solver"]
        test = self._solver_answers(attempt, mcq, metadata)
        if test.parsed == 0:
            return Rejection(
                attempt=attempt,
                stage="self_test",
                reason="solver_unparsable",
                detail=f"none of {len(test.votes)} solver replies gave a valid letter",
                draft=mcq,
            )
        key = mcq.answer_index
        option_fields["solver_answers"] = list(test.votes)
        conflict = test.conflicts_with(key, settings.discrimination_trigger)
        metadata.update(solver=solver.spec.model, solver_parsed=test.parsed, conflict=conflict)
        solution: str | None = None
        if evidence == "program+solvers" and test.majority() != key:
            return Rejection(
                attempt=attempt, stage="self_test", reason="program_unconfirmed", draft=mcq,
                detail="the programs' value differs from the generator's own, and the solvers' majority "
                f"did not choose it ({test.parsed} answers parsed)",
            )  # fmt: skip
        if evidence == "generator" and not conflict:
            evidence = "generator+solvers"
        elif evidence == "generator" and steps.discrimination:
            rival = test.rival(key)
            assert rival is not None  # a conflict means some solver chose another option
            judge = self._judge_for(attempt, metadata)
            verdict = judge(
                mcq,
                solution_text(chosen.reasoning, key, mcq),
                solution_text(test.reasoning_for(rival), rival, mcq),
                "discriminate",
            )
            metadata.update(discrimination=verdict.verdicts)
            option_fields["judge_labels"] = verdict.named
            if not verdict.accepted:
                return Rejection(
                    attempt=attempt, stage="discrimination", reason=verdict.reason, detail=verdict.detail, draft=mcq
                )
            assert verdict.label is not None
            key, evidence = verdict.label, "judge"
            if key != mcq.answer_index:
                argued = test.reasoning_for(key) if key in test.votes else verdict.verdicts[-1]["analysis"]
                solution = letter_free(argued, mcq.choices)
            mcq = MCQ(question=mcq.question, choices=mcq.choices, answer_index=key)
        metadata.update(
            relabelled=chosen.mcq is not None and key != chosen.mcq.answer_index,
            solver_accuracy=round(test.accuracy(key) or 0.0, 4),
            difficulty=test.difficulty(key),
        )
        return mcq, evidence, solution

    def _solver_answers(self, attempt: int, mcq: MCQ, metadata: dict[str, Any]) -> SelfTest:
        """The solver's answers: ``solver_samples`` in one request, or (adaptive) in rounds until more cannot
        change the outcome; the rule and where it stopped go into the item's record."""
        config, settings = self.config, self.settings
        sampling, total = settings.solver_sampling, settings.solver_samples
        seed = attempt_seed(config.seed, attempt, "solve")
        sample_key = f"seed={config.seed}|attempt={attempt}|solve"
        common = {"temperature": settings.solver_temperature, "attempt": attempt}
        if sampling.mode == "fixed":  # the paper's single request, unchanged (and so are its cache keys)
            return take_test(
                self.models["solver"], self.prompts, mcq, samples=total, seed=seed, sample_key=sample_key, **common
            )
        votes: list[int | None] = []
        reasonings: list[str] = []
        rounds = schedule(sampling, total)
        for size in rounds:
            taken = take_test(
                self.models["solver"], self.prompts, mcq, samples=size, seed=seed + len(votes),
                sample_key=f"{sample_key}|from={len(votes)}", **common,
            )  # fmt: skip
            votes += taken.votes
            reasonings += taken.reasonings
            remaining = total - len(votes)
            trigger = settings.discrimination_trigger
            if settled(votes, mcq.answer_index, len(mcq.choices), remaining, trigger, sampling):
                break
        metadata["solver_sampling"] = {
            "rule": "adaptive",
            "confidence": sampling.confidence,
            "bin_edges": list(sampling.bin_edges),
            "rounds": rounds,
            "stopped_at": len(votes),
            "of": total,
        }
        return SelfTest(votes=votes, reasonings=reasonings)

    def _judge_for(self, attempt: int, metadata: dict[str, Any]) -> Judge:
        """Contrastive discrimination of the key's solution against a rival one, in both orders."""

        def judge(mcq: MCQ, key_solution: str, rival_solution: str, tag: str) -> Discrimination:
            metadata["judge"] = self.models["judge"].spec.model
            return self._judge(attempt, mcq, key_solution, rival_solution, tag, metadata)

        return judge

    def _judge(
        self, attempt: int, mcq: MCQ, key_solution: str, rival_solution: str, tag: str, metadata: dict[str, Any]
    ) -> Discrimination:
        """Contrastive discrimination of the key's solution against a rival one, in both orders."""
        config = self.config
        metadata["prompts"]["benchmaker.discriminate"] = self.prompts.get("benchmaker.discriminate").ref
        return discriminate(
            self.models["judge"],
            self.prompts,
            mcq,
            key_solution=key_solution,
            rival_solution=rival_solution,
            temperature=self.settings.judge_temperature,
            seed=attempt_seed(config.seed, attempt, tag),
            sample_key=f"seed={config.seed}|attempt={attempt}|{tag}",
            attempt=attempt,
            max_repairs=config.generation.max_repairs,
        )
