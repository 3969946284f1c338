"""`--task distill`: resolve the teacher and the student, estimate each phase of a plan on the same GPUs, and find one
build that runs every phase (sizing.specs.distill for the modes, sizing.estimate.distill for the formulas)."""

from __future__ import annotations

from . import recommend as rec
from .catalog import Catalog
from .estimate import distill as dist
from .scenarios import constraints_of, resolve_execution
from .specs import (
    DEFAULT_TRAIN_SEQ_LEN,
    TRAINING_FIELDS,
    DistillPlan,
    DistillRecommendation,
    DistillSetup,
    Option,
    Phase,
    RecommendRequest,
    Request,
    SizingError,
    System,
)

TEACHER_BATCH = 8  # sequences the teacher pass keeps in flight (an offline vLLM job; prefill is compute-bound)
GENERATION_BATCH = 64  # responses generated concurrently in sequence-level distillation (a batch job, not chat)
DEFAULT_TOP_K = 20  # vLLM's max_logprobs default: what a teacher pass served by vLLM returns per position
DEFAULT_PROMPT = 512  # sequence-level: prompt tokens per sample
DEFAULT_RESPONSE = 4096  # sequence-level: response tokens (reasoning traces run long; R1's distill data did)


class Resolved:
    """The teacher's and the student's executions for a distill request (on one GPU; the plan splits them)."""

    def __init__(self, catalog: Catalog, req: Request):
        if not req.teacher:
            raise SizingError("--task distill needs --teacher (the model whose knowledge the student learns)")
        if not req.tokens and (req.mode or "offline") != "sequence":
            raise SizingError("--task distill needs --tokens, the training tokens per epoch (e.g. 200M)")
        self.mode = req.mode
        seq = req.seq_len or req.prompt_tokens or DEFAULT_TRAIN_SEQ_LEN
        student_req = Request(
            model=req.model,
            task=req.student_task or "full-finetune",
            precision=req.precision,
            batch=_micro_batch(req),
            seq_len=seq,
            n_gpus=req.n_gpus,
            tokens=req.tokens,
            epochs=req.epochs,
            **{k: getattr(req, k) for k in TRAINING_FIELDS if getattr(req, k) is not None},
        )
        self.student, self.student_x = resolve_execution(catalog, student_req)
        teacher_req = Request(
            model=req.teacher,
            engine=req.engine,
            precision=req.teacher_precision or "bf16",
            batch=TEACHER_BATCH,
            prompt_tokens=seq,
            new_tokens=0,
            n_gpus=req.n_gpus,
        )
        self.teacher, teacher_x = resolve_execution(catalog, teacher_req)
        self.teacher_x = dist.teacher_execution(teacher_x, seq)
        prompt = req.prompt_tokens or DEFAULT_PROMPT
        response = req.response_tokens or DEFAULT_RESPONSE
        samples = req.samples or (int(req.tokens / (prompt + response)) if req.tokens else 0)
        if req.mode == "sequence" and samples < 1:
            raise SizingError("sequence-level distillation needs --samples (responses to generate) or --tokens")
        self.gen_x = teacher_x.model_copy(
            update={"batch": GENERATION_BATCH, "prompt_tokens": prompt, "new_tokens": response}
        )
        self.sequence = DistillSetup(
            mode="sequence",
            tokens=max(1.0, samples * (prompt + response)),
            epochs=req.epochs or 1.0,
            samples=max(1, samples),
            response_tokens=response,
        )
        self.setup = DistillSetup(
            mode="offline",
            top_k=req.kd_top_k or 20,
            tokens=req.tokens or self.sequence.tokens,
            epochs=req.epochs or 1.0,
        )
        self.catalog = catalog

    def modes(self) -> tuple[str, ...]:
        return (self.mode,) if self.mode else ("offline", "online")

    def plan(self, mode: str, system: System) -> DistillPlan:
        """The plan's phases on `system` (each execution split over its GPUs)."""
        n, k = system.n_gpus, system.n_nodes
        cat = self.catalog
        student_x = self.student_x.on_gpus(n, k)
        eff_s = cat.efficiency(student_x.engine.id, system.gpu.gpu_class)
        eff_t = cat.efficiency(self.teacher_x.engine.id, system.gpu.gpu_class)
        phases: tuple[Phase, ...]
        if mode == "online":
            teacher = (self.teacher, self.teacher_x)
            phases = (dist.online(self.student, student_x, system, eff_s, teacher, self.setup.tokens),)
            setup = self.setup.model_copy(update={"mode": "online"})
        elif mode == "sequence":
            gen = dist.teacher_generation(self.teacher, self.gen_x.on_gpus(n, k), system, eff_t, self.sequence)
            train = dist.student_training(self.student, student_x, system, eff_s, self.sequence.tokens)
            phases, setup = (gen, train), self.sequence
        else:
            label = dist.teacher_labels(self.teacher, self.teacher_x.on_gpus(n, k), system, eff_t, self.setup)
            train = dist.student_training(self.student, student_x, system, eff_s, self.setup.tokens)
            phases, setup = (label, train), self.setup
        return DistillPlan(
            setup=setup, teacher=self.teacher.id, student=self.student.id, phases=phases, fits=dist.fits(phases)
        )


def estimate(catalog: Catalog, req: Request) -> tuple[DistillPlan, ...]:
    """`sizing estimate --task distill`: each mode's plan on req.n_gpus of req.gpu."""
    r = Resolved(catalog, req)
    system = System.of(catalog.gpu(req.gpu), req.n_gpus, latencies=catalog.links)
    return tuple(r.plan(mode, system) for mode in r.modes())


def _micro_batch(req: Request) -> int:
    """The student's micro-batch: `recommend --batch` (= --users) where given, else 1; `estimate --batch`."""
    if isinstance(req, RecommendRequest):
        return req.users if "users" in req.model_fields_set else 1
    return req.batch


def recommend(catalog: Catalog, req: RecommendRequest) -> DistillRecommendation:
    """The student's training builds, cheapest first; the first on which every phase of a mode fits is the one build
    for the plan, and its fastest mode is chosen. Each phase also gets its own best build."""
    r = Resolved(catalog, req)
    constraints = constraints_of(catalog, req)
    student = rec.recommend(rec.Problem(parts=catalog, model=r.student, execution=r.student_x, constraints=constraints))
    teacher_x = r.teacher_x if "sequence" not in r.modes() else r.gen_x
    teacher = rec.recommend(rec.Problem(parts=catalog, model=r.teacher, execution=teacher_x, constraints=constraints))
    runs_all: list[tuple[Option, tuple[DistillPlan, ...]]] = []
    deadline = req.deadline_s  # --deadline: the whole plan (every phase, one after another) must end within it

    def meets(p: DistillPlan) -> bool:
        return p.fits and (deadline is None or p.total_time_s <= deadline)

    for option in student.options:
        plans = tuple(r.plan(mode, System.from_build(option.build, catalog.links)) for mode in r.modes())
        if any(meets(p) for p in plans):
            runs_all.append((option, plans))
        if len(runs_all) >= 3:
            break
    notes: list[str] = []
    if not runs_all:
        notes.append(
            "no build runs every phase: see each phase's best build"
            if deadline is None
            else f"no build tried runs every phase within the {deadline / 3600:,.1f} h deadline: use faster or more "
            "GPUs, fewer --tokens, a smaller --kd-top-k or --student-task lora"
        )
        return DistillRecommendation(plans=(), build=None, chosen=None, notes=tuple(notes))
    build, plans = runs_all[0]
    fitting = [p for p in plans if meets(p)]
    chosen = min(fitting, key=lambda p: p.total_time_s)
    best = {"student-training": student.options[0] if student.options else None}
    best["teacher"] = teacher.options[0] if teacher.options else None
    chosen = chosen.model_copy(
        update={
            "phases": tuple(
                p.model_copy(
                    update={"best": best["teacher"] if p.name.startswith("teacher") else best["student-training"]}
                )
                for p in chosen.phases
            )
        }
    )
    drive = build.build.data_drive
    room = (drive.capacity_bytes * build.build.n_data_drives) if drive else 0.0
    if chosen.storage_bytes > room:
        notes.append(
            f"the plan writes {chosen.storage_bytes / 1e12:,.2f} TB but the build's data drives hold "
            f"{room / 1e12:,.1f} TB; add drives"
        )
    return DistillRecommendation(
        plans=tuple(p if p.setup.mode != chosen.setup.mode else chosen for p in plans),
        build=build,
        chosen=chosen,
        other_builds=tuple(o for o, _ in runs_all[1:]),
        other_plans=tuple(min(filter(meets, ps), key=lambda p: p.total_time_s) for _, ps in runs_all[1:]),
        notes=tuple(notes),
        training=student,
    )
