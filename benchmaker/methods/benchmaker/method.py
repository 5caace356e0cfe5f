"""The BenchMaker method: the paper's steps composed into one attempt, each switchable.

Run level (``prepare``): demand analysis, AttrPrompt and the strategy bank, saved in the run as
``attributes.yaml``. Per attempt (``generate``): plan (attributes, strategy, references) ->
n candidates -> near-duplicate filter and diversity choice -> self test-taking -> contrastive
discrimination on conflict. Every failure is a Rejection with its stage and reason.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

from benchmaker.config import RunConfig
from benchmaker.embeddings import embedding_cache_dir, make_embedder
from benchmaker.errors import LLMError, LLMFatalError, ParseError
from benchmaker.items import BenchmarkItem, Draft, Rejection
from benchmaker.methods.base import GenerationContext, MethodSetupError, attempt_seed
from benchmaker.methods.benchmaker import attributes as attr
from benchmaker.methods.benchmaker.candidates import generate_candidates, render_item
from benchmaker.methods.benchmaker.computability import vote_computability
from benchmaker.methods.benchmaker.demand import DemandAnalysis, analyse_demand, unanalysed
from benchmaker.methods.benchmaker.diffusion import Candidate as ReferenceCandidate
from benchmaker.methods.benchmaker.diffusion import choose_references
from benchmaker.methods.benchmaker.diversity import NearDuplicateIndex, most_diverse
from benchmaker.methods.benchmaker.plan import AttemptPlan, PlanBook
from benchmaker.methods.benchmaker.strategy import StrategyBank
from benchmaker.methods.benchmaker.verify import DraftVerifier
from benchmaker.verification.sandbox import require_isolation

ATTRIBUTES_FILE = "attributes.yaml"
PROMPT_IDS = (
    "benchmaker.demand_analysis",
    "benchmaker.propose_attributes",
    "benchmaker.merge_attributes",
    "benchmaker.difficulty_attributes",
    "benchmaker.generate",
    "benchmaker.solve",
    "benchmaker.discriminate",
    "benchmaker.computability",
    "benchmaker.write_program",
    "benchmaker.check_draft",
    "benchmaker.distractors",
)


class BenchMakerMethod:
    name = "benchmaker"
    prompt_ids = PROMPT_IDS
    wave_factor = 1  # diffusion and the strategy ramp learn from accepted items: one batch per wave

    @staticmethod
    def required_roles(config: RunConfig) -> tuple[str, ...]:
        steps, checks = config.benchmaker.steps, config.benchmaker.checks
        judged = steps.discrimination or checks.single_question or checks.constraints
        return ("generator", *(["solver"] if steps.self_test else []), *(["judge"] if judged else []))

    def __init__(self, context: GenerationContext) -> None:
        self.context = context
        self.config = context.config
        self.settings = context.config.benchmaker
        self.steps = self.settings.steps
        self.prompts = context.prompts
        self.models = context.models
        self.attributes: attr.AttributeSet | None = None
        self.bank: StrategyBank | None = None
        self.plans = PlanBook(context.store)
        self.duplicates = NearDuplicateIndex(
            make_embedder(self.settings.embedder, embedding_cache_dir(self.config.outputs_dir)),
            self.settings.near_duplicate_threshold,
        )
        self._plan_lock = threading.Lock()
        self.setup_notes: list[str] = []
        """What went differently from the plan in the run-level steps (recorded in the manifest)."""
        self.program_verification = False
        """Whether keys are checked by program: decided in ``prepare`` from config and demand analysis."""
        self.verifier: DraftVerifier | None = None

    @property
    def value_first(self) -> bool:
        """Stems first, choices built around the value the programs agree on (computable requirements)."""
        return self.program_verification and self.settings.program.order == "value_first"

    def prompt_refs(self) -> dict[str, str]:
        return {pid: self.prompts.get(pid).ref for pid in PROMPT_IDS}

    # -- run level ----------------------------------------------------------------------------------

    def prepare(self, accepted: Sequence[BenchmarkItem]) -> None:
        if self.settings.program.mode == "on":  # refused before any token is spent (auto: after the vote)
            require_isolation(self.settings.program.allow_weaker_isolation)
        store = self.context.store
        saved = store.path(ATTRIBUTES_FILE) if store is not None else None
        if saved is not None and saved.exists():
            self.attributes = attr.load_attributes(saved)  # a resume: Stage A is never paid twice
        else:
            self.attributes = self._analyse()
            if saved is not None:
                attr.save_attributes(saved, self.attributes)
                store.update_stage(
                    "analyse",
                    status="complete",
                    attributes_file=ATTRIBUTES_FILE,
                    general_attributes=len(self.attributes.general),
                    difficulty_attributes=len(self.attributes.difficulty),
                    from_file=str(self.settings.attributes_file) if self.settings.attributes_file else None,
                    notes=self.setup_notes,
                )
        if self.steps.attributes and not self.attributes.general:
            raise MethodSetupError(
                "no general attributes: add some to the attributes file or turn steps.attributes off"
            )
        if self.steps.strategy_guidance:
            if not self.attributes.difficulty:
                raise MethodSetupError(
                    "no difficulty attributes: add some to the attributes file or turn steps.strategy_guidance off"
                )
            self.bank = StrategyBank(self.attributes.difficulty)
        if len(self.duplicates) == 0:
            self.duplicates.add([item.question for item in accepted])
        self.program_verification, decided_by = self._decide_program_verification(self.attributes.demand)
        # Refused where the sandbox lacks a layer, unless the config accepts weaker isolation.
        isolation = require_isolation(self.settings.program.allow_weaker_isolation) if self.program_verification else ()
        self.verifier = DraftVerifier(self.context, self.attributes.demand, self.program_verification)
        if store is not None:
            store.update_stage(
                "program_verification",
                enabled=self.program_verification,
                decided_by=decided_by,
                **({"isolation": list(isolation)} if isolation else {}),
            )

    def _decide_program_verification(self, demand: DemandAnalysis | None) -> tuple[bool, str]:
        mode = self.settings.program.mode
        if mode != "auto":
            return mode == "on", f"config: benchmaker.program.mode {mode}"
        computable = demand.computable if demand is not None else None
        if computable is None:
            return False, (
                "no computability vote could be read; set benchmaker.program.mode: on to force verification, "
                "or demand.computable in the attributes file"
            )
        return computable, f"demand analysis: answers {'are' if computable else 'are not'} computable"

    def _analyse(self) -> attr.AttributeSet:
        """Stage A: demand analysis and AttrPrompt, or the user's attributes file."""
        requirement = self.config.requirement
        generator = self.models["generator"]
        repairs = self.config.generation.max_repairs
        seed = attempt_seed(self.config.seed, 0, "stage-a")
        given = attr.load_attributes(self.settings.attributes_file) if self.settings.attributes_file else None
        try:
            demand = given.demand if given is not None and given.demand is not None else None
            if demand is None:
                if self.steps.demand_analysis:
                    demand, notes = analyse_demand(generator, self.prompts, requirement, seed=seed, max_repairs=repairs)
                    self.setup_notes += notes
                else:
                    demand = unanalysed(requirement)
            demand = self._decide_computability(demand)
            if given is not None:
                return given.model_copy(update={"demand": demand})
            general: list[attr.GeneralAttribute] = []
            if self.steps.attributes:
                proposals, notes = attr.propose_general(
                    generator,
                    self.prompts,
                    demand,
                    proposals=self.settings.attribute_proposals,
                    minimum=self.settings.min_general_attributes,
                    seed=seed,
                    max_repairs=repairs,
                )
                if not proposals:
                    raise MethodSetupError(f"every attribute proposal failed: {'; '.join(notes)}")
                self.setup_notes += notes
                try:
                    general, notes = attr.merge_general(
                        generator,
                        self.prompts,
                        demand,
                        proposals,
                        minimum=self.settings.min_general_attributes,
                        seed=seed,
                        max_repairs=repairs,
                    )
                    self.setup_notes += notes
                except ParseError as error:
                    # The proposals are good; only the model's consolidation failed: union them instead.
                    general = attr.union_of_proposals(proposals)
                    self.setup_notes.append(f"merge failed ({error}); used the union of {len(proposals)} proposals")
            difficulty: list[attr.DifficultyAttribute] = []
            if self.steps.strategy_guidance:
                difficulty, notes = attr.propose_difficulty(
                    generator,
                    self.prompts,
                    demand,
                    minimum=self.settings.min_difficulty_attributes,
                    seed=seed,
                    max_repairs=repairs,
                )
                self.setup_notes += notes
        except LLMFatalError:
            raise
        except LLMError as error:
            raise MethodSetupError(f"demand analysis / attribute generation failed: {error}") from None
        return attr.AttributeSet(demand=demand, general=general, difficulty=difficulty)

    def _decide_computability(self, demand: DemandAnalysis) -> DemandAnalysis:
        """mode auto: a majority vote says whether answers can be computed (once; saved with the demand)."""
        if self.settings.program.mode != "auto" or demand.computable is not None:
            return demand
        decision = vote_computability(
            self.models["generator"],
            self.prompts,
            requirement=self.config.requirement.description,
            task=demand.task if self.steps.demand_analysis else "",
            samples=self.settings.program.computability_votes,
            seed=attempt_seed(self.config.seed, 0, "computability"),
        )
        self.setup_notes.append(decision.note())
        return demand.model_copy(update={"computable": decision.computable})

    # -- one attempt ----------------------------------------------------------------------------------

    def _plan(self, attempt: int, accepted: Sequence[BenchmarkItem], slot: int) -> AttemptPlan:
        existing = self.plans.get(attempt)
        if existing is not None:
            return existing
        rng = random.Random(attempt_seed(self.config.seed, attempt, "plan"))
        assert self.attributes is not None
        general = {a.name: rng.choice(a.values) for a in self.attributes.general} if self.steps.attributes else {}
        fields: dict[str, Any] = {"attempt": attempt, "slot": slot, "general": general}
        if self.bank is not None:
            bin_index = StrategyBank.bin_for(slot, self.config.requirement.n_items)
            strategy = self.bank.sample(bin_index, rng)
            fields.update(bin=bin_index, strategy=strategy.values, strategy_score=strategy.score)
        with self._plan_lock:
            if self.steps.diffusion and accepted:
                pool = [
                    ReferenceCandidate(item.id, item.difficulty or 1.0, order) for order, item in enumerate(accepted)
                ]
                fields["references"] = choose_references(pool, self.plans.usage(), self.settings.references, rng)
            return self.plans.add(AttemptPlan(**fields))

    def generate(self, attempt: int, accepted: Sequence[BenchmarkItem], slot: int) -> Draft | Rejection:
        plan = self._plan(attempt, accepted, slot)
        by_id = {item.id: item for item in accepted}
        references = [
            render_item(by_id[ref].question, by_id[ref].choices, by_id[ref].answer_index)
            for ref in plan.references
            if ref in by_id
        ]
        try:
            return self._generate(attempt, plan, references)
        except LLMFatalError:
            raise
        except LLMError as error:
            return Rejection(attempt=attempt, stage="llm", reason="llm_error", detail=str(error)[:500])

    def _generate(self, attempt: int, plan: AttemptPlan, references: list[str]) -> Draft | Rejection:
        config, settings, steps = self.config, self.settings, self.steps
        requirement = config.requirement
        assert self.attributes is not None
        demand = self.attributes.demand or unanalysed(requirement)
        generator = self.models["generator"]
        candidates, failures = generate_candidates(
            generator,
            self.prompts,
            {
                "requirement": requirement.description,
                "language": requirement.language,
                "task": demand.task if steps.demand_analysis else "",
                "question_content": demand.question_content,
                "answer_choices": demand.answer_choices,
                "constraints": demand.constraints,
                "general_attributes": plan.general,
                "strategy": plan.strategy,
                "references": references,
            },
            n_options=requirement.n_options,
            stepwise=steps.stepwise,
            n=settings.candidates,
            temperature=config.generation.temperature,
            seed=attempt_seed(config.seed, attempt, "generate"),
            sample_key=f"seed={config.seed}|attempt={attempt}",
            attempt=attempt,
            value=self.program_verification and settings.program.generator_value,
            stem=self.value_first,
        )
        if not candidates:
            return Rejection(
                attempt=attempt, stage="generate", reason="no_parsable_candidate", detail="; ".join(failures)[:500]
            )
        similarity = self.duplicates.duplicates([c.question for c in candidates])
        fresh = [c for c, sim in zip(candidates, similarity, strict=True) if sim is None]
        if not fresh:
            return Rejection(
                attempt=attempt,
                stage="diversity",
                reason="near_duplicate",
                detail=f"every candidate duplicates an accepted question (cosine {max(similarity):.3f})",
            )
        chosen, entropy = fresh[0], []
        if steps.diversity:
            texts = [c.rendered() for c in fresh]
            best, entropy = most_diverse(texts, references)
            chosen = fresh[best]
        metadata: dict[str, Any] = {
            "explanation": chosen.reasoning,
            "analysis": chosen.analysis,
            "generator": generator.spec.model,
            "prompts": {pid: self.prompts.get(pid).ref for pid in ("benchmaker.generate", "benchmaker.solve")},
            "plan": plan.model_dump(exclude={"attempt"}),
            "candidates": {
                "requested": settings.candidates,
                "parsed": len(candidates),
                "near_duplicates": len(candidates) - len(fresh),
                "chosen": chosen.index,
                "entropy_bits": [round(e, 4) for e in entropy],
            },
        }
        assert self.verifier is not None
        return self.verifier.verify(attempt, chosen, metadata)

    # -- at record time ---------------------------------------------------------------------------------

    def admit(self, draft: Draft) -> Rejection | None:
        """Items accepted in parallel since this attempt's check may duplicate it: check again."""
        similarity = self.duplicates.add_unless_duplicate(draft.mcq.question)
        if similarity is not None:
            return Rejection(
                attempt=draft.attempt,
                stage="diversity",
                reason="near_duplicate",
                detail=f"duplicates an item accepted meanwhile (cosine {similarity:.3f})",
                draft=draft.mcq,
            )
        return None
