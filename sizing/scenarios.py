"""The library's entry: a request of names -> objects -> one estimate or recommendation. Name resolution only:
the request types live in `specs.requests`, the scenario CSV is read by `catalog`, the JSON is shaped by `report`."""

from __future__ import annotations

from datetime import date

from . import estimate as est
from . import hybrid
from . import recommend as rec
from .catalog import Catalog
from .modelspec import resolve
from .recommend.classes import ClassPlan
from .recommend.targets import with_targets
from .specs import (
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_NEW_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    DEFAULT_TRAIN_BATCH,
    DEFAULT_TRAIN_SEQ_LEN,
    TRAIN_TASKS,
    TRAINING_FIELDS,
    Constraints,
    Engine,
    Estimate,
    Execution,
    ModelSpec,
    Parallelism,
    Recommendation,
    RecommendRequest,
    Request,
    SizingError,
    Speculative,
    System,
    Training,
)

TASKS = ("inference", *TRAIN_TASKS, "embed")


def resolve_execution(catalog: Catalog, req: Request) -> tuple[ModelSpec, Execution]:
    """The model and how it runs (on req.n_gpus GPUs of one node), every name resolved against the catalog."""
    task = req.task.strip().lower()
    if task not in TASKS:
        raise SizingError(f"task '{req.task}' is not estimated yet; use --task {', '.join(TASKS)}")
    if task in TRAIN_TASKS:
        return training_execution(catalog, req, task)
    model = resolve(req.model, catalog)
    if task == "embed":
        embedding_model(catalog, model)
    precision = catalog.precision(req.precision)
    engine = catalog.engine(req.engine) if req.engine else catalog.default_engine(precision.family)
    loaders = precision.recipe.engines if precision.recipe is not None else ()
    if loaders and engine.id not in loaders:  # a recipe with types only some engines have (ik_llama.cpp's _R4)
        if req.engine:
            types = ", ".join(precision.recipe.restricted_types) if precision.recipe else ""
            raise SizingError(
                f"{engine.name} cannot load {precision.id} ({types} are {', '.join(loaders)} types); "
                f"use --engine {loaders[0]}"
            )
        engine = catalog.engine(loaders[0])
    if precision.family not in engine.weight_families:
        runs = [p.id for p in catalog.precisions.values() if p.family in engine.weight_families][:8]
        raise SizingError(
            f"{engine.name} does not run {precision.id} weights; pick --precision from "
            f"{', '.join(runs)} or another --engine"
        )
    kv = catalog.precision(req.kv_precision or engine.default_kv_precision)
    kv_formats = engine.kv_precisions or tuple(p.id for p in catalog.precisions.values() if p.family == "float")
    if kv.id not in kv_formats and kv.id != engine.default_kv_precision:
        raise SizingError(
            f"{engine.name} cannot keep its KV cache in {kv.id}; pick --kv-precision from {', '.join(kv_formats)}"
        )
    expert_parallel_check(req, model, engine)
    dp_attention_check(req, model, engine)
    # --task embed generates nothing: the whole sequence (--seq-len / --context) is the one forward's input
    new, prompt = _token_counts(req.model_copy(update={"new_tokens": 0}) if task == "embed" else req)
    return model, Execution(
        task="embed" if task == "embed" else "inference",
        engine=engine,
        precision=precision,
        kv_precision=kv,
        parallelism=Parallelism.for_engine(engine, req.n_gpus, ep=req.ep or 1, dp_attention=req.dp_attention),
        expert_parallel=req.ep,
        dp_attention=req.dp_attention,
        batch=req.batch,
        prompt_tokens=prompt,
        new_tokens=new,
        speculative=speculative_of(catalog, req, model),
    )


def dp_attention_check(req: Request, model: ModelSpec, engine: Engine) -> None:
    """--dp-attention needs an engine with a layout for it (engines.csv dp_attention; vLLM's for MoE models, whose
    dense models' ranks are plain replicas) and no linear-attention layers (their state split is not modelled)."""
    if not req.dp_attention:
        return
    use = "--engine sglang or vllm" if model.is_moe else "--engine sglang (vllm's ranks of a dense model are replicas)"
    if engine.dp_attention is None or (engine.dp_attention == "dense" and not model.is_moe):
        raise SizingError(
            f"{engine.name} has no attention data parallel for {model.name}; drop --dp-attention or use {use}"
        )
    if model.n_linear_layers:
        raise SizingError(f"--dp-attention is not modelled for {model.name}'s linear-attention layers; drop it")


def expert_parallel_check(req: Request, model: ModelSpec, engine: Engine) -> None:
    """--ep N for serving needs an MoE model and an engine that splits experts (engines.csv expert_parallel)."""
    if req.ep is None or req.ep == 1:
        return
    if not model.is_moe:
        raise SizingError(f"--ep {req.ep} splits the routed experts of an MoE model; {model.name} has none: drop --ep")
    if not engine.expert_parallel:
        raise SizingError(
            f"{engine.name} has no expert parallel for serving; drop --ep or use --engine sglang, vllm or tensorrt-llm"
        )


def embedding_model(catalog: Catalog, model: ModelSpec) -> None:
    """--task embed sizes an embedding or reranker server; a generative model is refused, naming the ones it takes."""
    if not model.is_embedding:
        names = ", ".join(m.id for m in catalog.models.values() if m.is_embedding)
        raise SizingError(f"--task embed needs an embedding or reranker model, not {model.id}; use one of: {names}")


def speculative_of(catalog: Catalog, req: Request, model: ModelSpec) -> Speculative | None:
    """--speculative mtp|eagle|draft-model --acceptance a [--draft-tokens n] [--draft-model M]: the names resolved,
    the drafter's costs from est.inference.drafter."""
    if req.speculative is None:
        if req.acceptance is not None or req.draft_model is not None or req.draft_tokens is not None:
            raise SizingError("--acceptance, --draft-tokens and --draft-model need --speculative mtp|eagle|draft-model")
        return None
    if req.acceptance is None:
        raise SizingError("--speculative needs --acceptance, the share of draft tokens kept (e.g. 0.7)")
    if req.speculative == "draft-model" and req.draft_model is None:
        raise SizingError("--speculative draft-model needs --draft-model (a catalog id or size, e.g. llama-3.2-1b)")
    if req.speculative != "draft-model" and req.draft_model is not None:
        raise SizingError(f"--draft-model is for --speculative draft-model, not {req.speculative}")
    draft = resolve(req.draft_model, catalog) if req.draft_model else None
    kv = catalog.precision(req.kv_precision or "bf16")
    return Speculative(
        method=req.speculative,
        acceptance=req.acceptance,
        n_draft=req.draft_tokens or 1,
        **est.inference.drafter(model, draft, catalog.precision(req.precision), kv),
    )


DEFAULT_TRAINER = {"pretrain": "megatron"}  # else the Hugging Face Trainer + PEFT, what most fine-tunes run


def training_execution(catalog: Catalog, req: Request, task: str) -> tuple[ModelSpec, Execution]:
    """A training task: the trainer (its defaults fill every choice the request leaves empty), the base format
    (qlora: NF4 unless another bitsandbytes format is named; full training: 16-bit weights), the sequence length."""
    if req.n_gpus == 0:
        raise SizingError(f"--gpus 0 runs inference on the CPU alone; {task} needs at least one GPU")
    model = resolve(req.model, catalog)
    trainer = catalog.trainer(req.trainer or DEFAULT_TRAINER.get(task, "transformers"))
    if task not in trainer.tasks:
        raise SizingError(f"{trainer.name} does not run {task}; it runs {', '.join(trainer.tasks)}")
    precision = catalog.precision("nf4" if task == "qlora" and req.precision == "bf16" else req.precision)
    if task == "qlora" and precision.family != "bnb":
        raise SizingError(
            f"qlora trains adapters on a bitsandbytes 4-bit base, not {precision.id}; use --precision nf4"
        )
    if task in ("full-finetune", "pretrain") and precision.is_quantized:
        raise SizingError(
            f"{task} trains every weight in 16 bits, not {precision.id}; use --precision bf16, or --task qlora / lora"
        )
    sharding = req.sharding or trainer.default_sharding
    if sharding not in trainer.shardings:
        raise SizingError(
            f"{trainer.name} does not shard by {sharding}; use --sharding {' or '.join(trainer.shardings)}"
        )
    if req.ep is not None and req.ep > 1 and not (trainer.expert_parallel and model.is_moe):
        raise SizingError(
            f"--ep {req.ep} needs an MoE model and a trainer with expert parallelism (megatron, deepspeed); "
            f"{model.name} with {trainer.name} has none: drop --ep or change --trainer/--model"
        )
    grid = {k: getattr(req, k) for k in ("tp", "pp", "cp") if getattr(req, k) is not None}
    if grid and "tensor" not in trainer.shardings:
        raise SizingError(
            f"{trainer.name} has no tensor, pipeline or context parallel; drop --tp/--pp/--cp or use --trainer "
            "megatron or torchtitan"
        )
    if grid and sharding == "device-map":
        raise SizingError("--sharding device-map places layers itself; drop --tp/--pp/--cp or pick another sharding")
    seq = req.seq_len or req.prompt_tokens or DEFAULT_TRAIN_SEQ_LEN
    if req.mean_seq_len is not None and req.mean_seq_len > seq:
        raise SizingError(f"--mean-seq-len {req.mean_seq_len} is above --seq-len {seq}: samples are padded to seq-len")
    training = Training(
        trainer=trainer,
        optimizer=req.optimizer or trainer.optimizer,
        optimizer_impl=trainer.optimizer_impl,
        master_weights=trainer.master_weights,
        recompute=req.recompute or trainer.recompute,
        flash_attention=trainer.flash_attention,
        fused_elementwise=trainer.fused_elementwise,
        chunked_ce=trainer.chunked_ce,
        optimizer_in_backward=trainer.optimizer_in_backward,
        activation_offload=trainer.activation_offload,
        sharding=sharding,
        sharding_chosen=req.sharding is None,
        offload=hybrid.training_offload(req),
        lora_rank=req.lora_rank or trainer.lora_rank,
        lora_targets=req.lora_targets or trainer.lora_targets,
        grad_accum=req.grad_accum or 1,
        tokens=req.tokens,
        epochs=req.epochs or 1.0,
        deadline_s=req.deadline_s,
        checkpoint_every_steps=req.checkpoint_every_steps,
        checkpoint_every_s=req.checkpoint_every_s,
        **({"keep_checkpoints": req.keep_checkpoints} if req.keep_checkpoints else {}),
        ep=req.ep,
        **grid,
        packing=trainer.packing if req.packing is None else req.packing == "on",
        mean_seq_len=req.mean_seq_len,
    )
    execution = Execution(
        task=task,  # checked against TRAIN_TASKS above
        engine=catalog.engine("transformers"),  # trainers run PyTorch modules: the transformers runtime's memory
        precision=precision,
        kv_precision=catalog.precision("bf16"),
        batch=req.batch if "batch" in req.model_fields_set else DEFAULT_TRAIN_BATCH,
        prompt_tokens=seq,
        new_tokens=0,
        training=training,
    )
    return model, execution.on_gpus(req.n_gpus)


def _token_counts(req: Request) -> tuple[int, int]:
    """(new, prompt) tokens per sequence: `seq_len` alone means prompt = seq_len - new tokens; a seq_len below the
    new tokens, or one that disagrees with the prompt given beside it, is an error naming both."""
    new = req.new_tokens if req.new_tokens is not None else DEFAULT_NEW_TOKENS
    new_text = f"new_tokens ({new}{', the default' if req.new_tokens is None else ''})"
    if req.seq_len is None:
        return new, req.prompt_tokens if req.prompt_tokens is not None else DEFAULT_PROMPT_TOKENS
    if req.seq_len < new:
        raise SizingError(
            f"seq_len ({req.seq_len}) is below {new_text}: seq_len counts the prompt and the new tokens; "
            "raise seq_len or lower new_tokens"
        )
    if req.prompt_tokens is not None and req.prompt_tokens + new != req.seq_len:
        raise SizingError(
            f"prompt_tokens ({req.prompt_tokens}) + {new_text} is {req.prompt_tokens + new}, not seq_len "
            f"({req.seq_len}); give prompt_tokens or seq_len, not both"
        )
    return new, req.seq_len - new


def run(catalog: Catalog, req: Request) -> Estimate:
    """Resolve every name in `req` and estimate it on req.n_gpus of req.gpu (each card at its own PCIe lanes); a
    request that names the host (CPU, DIMMs, offload, --gpus 0) goes through sizing.hybrid."""
    if hybrid.wanted(req):
        return hybrid.run(catalog, req, resolve_execution)
    model, execution = resolve_execution(catalog, req)
    gpu = catalog.gpu(req.gpu)
    found = est.estimate(
        model,
        execution,
        System.of(gpu, req.n_gpus, latencies=catalog.links),
        catalog.efficiency(execution.engine.id, gpu.gpu_class),
    )
    return with_targets(found, req.max_ttft_s, req.min_user_tokens_per_s)


def constraints_of(catalog: Catalog, req: RecommendRequest) -> Constraints:
    """The request's limits with every id resolved and the budget in USD."""
    fx = catalog.usd_to(req.currency)
    return Constraints(
        gpus=tuple(catalog.gpu(g).id for g in req.gpus_allowed),
        exclude=tuple(catalog.gpu(g).id for g in req.exclude),
        cpus=tuple(catalog.cpu(x).id for x in req.cpus_allowed),
        circuit=catalog.circuit(req.circuit).id if req.circuit else None,
        circuits=req.circuits,
        max_gpus=req.max_gpus,
        form_factor=req.form_factor,
        budget_usd=req.budget / fx.rate if fx and req.budget else req.budget,
        target_tokens_per_s=req.target_tokens_per_s,
        max_ttft_s=req.max_ttft_s,
        min_user_tokens_per_s=req.min_user_tokens_per_s,
        objective=req.objective,
        allow_used=req.used,
        as_of=req.as_of or date.today().isoformat(),  # the library entry reads the clock; the core never does
        build_class=req.build_class,
        offline=req.offline,
    )


def problem_of(catalog: Catalog, req: RecommendRequest) -> rec.Problem:
    """The recommendation problem the request names: the model, its execution on one GPU, the constraints."""
    if req.task.strip().lower() in TRAIN_TASKS:
        return _training_problem(catalog, req)
    if req.context is not None and req.prompt_tokens is not None:
        raise SizingError("--context and --prompt-tokens both set the prompt length; give one of them")
    context = req.context or (None if req.prompt_tokens is not None else DEFAULT_CONTEXT_TOKENS)
    new = req.new_tokens if req.new_tokens is not None else DEFAULT_NEW_TOKENS
    if req.task.strip().lower() == "embed":  # one forward per sequence: --context is the sequence length
        new = 0
    if context is not None and context <= new:
        raise SizingError(f"--context {context} must exceed --new-tokens {new}; raise --context or lower --new-tokens")
    base = Request(
        model=req.model,
        task=req.task,
        engine=req.engine,
        precision=req.precision,
        kv_precision=req.kv_precision,
        batch=req.users,
        new_tokens=new,
        prompt_tokens=req.prompt_tokens if context is None else context - new,
        speculative=req.speculative,
        acceptance=req.acceptance,
        draft_tokens=req.draft_tokens,
        draft_model=req.draft_model,
        ep=req.ep,
        dp_attention=req.dp_attention,
    )
    model, execution = resolve_execution(catalog, base)
    return rec.Problem(parts=catalog, model=model, execution=execution, constraints=constraints_of(catalog, req))


CHECKPOINT_FIELDS = ("deadline_s", "checkpoint_every_steps", "checkpoint_every_s", "keep_checkpoints", "ep")


def _training_problem(catalog: Catalog, req: RecommendRequest) -> rec.Problem:
    """A training recommendation: --batch is the micro-batch per GPU (default 1), the sequence is --seq-len (or
    --context / --prompt-tokens), the training options pass through."""
    fields = {k: getattr(req, k) for k in ("model", "task", "precision", *TRAINING_FIELDS, "tokens", "epochs")}
    fields.update({k: getattr(req, k) for k in CHECKPOINT_FIELDS})
    base = Request(
        **fields,
        batch=req.users if "users" in req.model_fields_set else DEFAULT_TRAIN_BATCH,
        seq_len=req.seq_len or req.context or req.prompt_tokens,
    )
    model, execution = resolve_execution(catalog, base)
    return rec.Problem(parts=catalog, model=model, execution=execution, constraints=constraints_of(catalog, req))


def recommend(catalog: Catalog, req: RecommendRequest) -> Recommendation:
    """Resolve the request's names, then search builds (sizing.recommend), prices shown in req.currency."""
    problem = problem_of(catalog, req)
    plan = class_plan(catalog, req, problem) if problem.execution.training is None else None
    result = rec.recommend(problem, request=req.model_dump(exclude_none=True), plan=plan)
    fx = catalog.usd_to(req.currency)
    if fx:
        result = result.model_copy(
            update={
                "currency": fx.to_currency,
                "fx_rate": fx.rate,
                "fx_date": fx.rate_date,
                "fx_source": fx.source,
            }
        )
    return result


def class_plan(catalog: Catalog, req: RecommendRequest, problem: rec.Problem) -> ClassPlan:
    """What the recommender's build classes need (recommend/classes.py): the request's execution with an engine that
    runs on the CPU alone and one that keeps weights in RAM: the named engine where it does, else llama.cpp, which
    runs every host mode (None, with the reason, where the named engine or the weights rule it out)."""
    x = problem.execution
    notes: list[str] = []

    def with_engine(mode: str) -> Execution | None:
        if req.engine:
            engine = catalog.engine(req.engine)
            if mode not in engine.offload_modes and not (mode == "hybrid" and engine.offload_modes):
                return None
            return x
        try:
            _, hx = resolve_execution(
                catalog,
                Request(
                    model=req.model,
                    engine=hybrid.DEFAULT_HOST_ENGINE,
                    precision=req.precision,
                    kv_precision=req.kv_precision,
                    batch=x.batch,
                    prompt_tokens=x.prompt_tokens,
                    new_tokens=x.new_tokens,
                ),
            )
        except SizingError as exc:
            notes.append(f"no {mode} build: {exc}")
            return None
        return hx

    any_gpu = next(iter(sorted(catalog.gpus.values(), key=lambda g: g.id)))
    return ClassPlan(
        parts=catalog,
        host_execution=with_engine("cpu"),
        hybrid_execution=with_engine("hybrid"),
        engine_named=req.engine is not None,
        any_gpu=any_gpu,
        notes=tuple(notes),
    )
