"""RL and preference fine-tuning (R1-zero style GRPO, PPO, DPO): the roles a step needs, where they sit, and the
time of one step split into its phases.

GRPO (Shao et al. 2024, DeepSeekMath §4.1) samples a group of responses per prompt and scores them against each
other: a policy that trains, a frozen reference for the KL term, a reward (a rule, or a reward model) and a rollout
engine that generates. PPO (Schulman et al. 2017; Ouyang et al. 2022) adds a critic (a value model) that trains too.
DPO (Rafailov et al. 2023) generates nothing: it trains the policy on (chosen, rejected) pairs against the reference.
Colocated placement puts every role on the same GPUs and alternates the phases (verl's hybrid engine, TRL's
vllm_mode="colocate"); disaggregated placement gives the rollout engine GPUs of its own and syncs the weights each step.
"""

from __future__ import annotations

from typing import Literal

from .base import Base, NonNegFloat, PosFloat, PosInt
from .results import Estimate, Finding, Option, Recommendation

RLAlgo = Literal["grpo", "ppo", "dpo"]
RL_ALGOS: tuple[str, ...] = ("grpo", "ppo", "dpo")
Placement = Literal["colocated", "disaggregated"]
RoleName = Literal["policy", "reference", "reward", "critic", "rollout"]
# --rl-offload: what lives in host RAM between its uses. reference: the frozen reference and reward weights (verl
# always wraps its ref and reward workers in FSDP CPUOffload(offload_params=True); OpenRLHF --ref_reward_offload:
# DeepSpeed ZeRO-3 offload_param to pinned CPU memory); optimizer: the trainers' optimizer states (verl
# fsdp_config.optimizer_offload, OpenRLHF --adam_offload: ZeRO offload_optimizer); all: both
RLOffload = Literal["none", "reference", "optimizer", "all"]
RL_OFFLOADS: tuple[str, ...] = ("none", "reference", "optimizer", "all")


class RLSetup(Base):
    algo: RLAlgo
    placement: Placement = "colocated"
    group_size: PosInt = 8  # responses per prompt (TRL GRPOConfig num_generations default 8)
    prompts_per_step: PosInt = 64  # prompts per optimizer step (DPO: preference pairs)
    prompt_tokens: PosInt = 512
    response_tokens: PosInt = 1024
    reward_model: str | None = None  # a model id; None: a rule (verifiable answers, R1-zero style) on the CPU
    kl: bool = True  # a frozen reference for the KL penalty (GRPO beta > 0, PPO, DPO)
    rollout_gpus: PosInt | None = None  # disaggregated: GPUs for the rollout engine (default: as many as training)
    n_steps: PosInt | None = None  # optimizer steps of the run (--steps, or --tokens x --epochs / tokens per step)
    deadline_s: PosFloat | None = None  # --deadline: the run (n_steps x the step) must end within this
    offload: RLOffload = "none"  # --rl-offload (sizing.rl resolves the trainer's default)

    @property
    def frozen_on_host(self) -> bool:
        """The frozen reference and reward weights live in host RAM and stream to the GPUs for their forward."""
        return self.offload in ("reference", "all")

    @property
    def optimizer_on_host(self) -> bool:
        return self.offload in ("optimizer", "all")

    @property
    def sequences(self) -> int:
        """Sequences per step: every prompt's group (DPO: a chosen and a rejected response per pair)."""
        return self.prompts_per_step * (2 if self.algo == "dpo" else self.group_size)

    @property
    def sequence_tokens(self) -> int:
        return self.prompt_tokens + self.response_tokens


class Role(Base):
    name: RoleName
    model: str
    trains: bool
    gpus: str  # "shared" (colocated), "training" or "rollout" (disaggregated)
    per_gpu_bytes: NonNegFloat  # what this role keeps on each GPU it sits on, at its peak
    note: str = ""
    lives: Literal["gpu", "host"] = "gpu"  # host: its weights (frozen) or optimizer states (trains) in host RAM
    host_bytes: NonNegFloat = 0.0  # what it keeps in host RAM, per node


class RLStep(Base):
    rollout_s: NonNegFloat  # generating every sequence (waves of what the KV cache holds)
    scoring_s: NonNegFloat  # forward passes of the reference, reward model and (PPO) critic over every token
    update_s: NonNegFloat  # the policy's (and the critic's) training over every token
    sync_s: NonNegFloat  # weights to the rollout engine (resharding colocated, a broadcast disaggregated)
    offload_s: NonNegFloat = 0.0  # offloaded frozen weights host -> GPU for every scoring forward (--rl-offload)
    sequences: PosInt
    tokens: PosFloat  # tokens trained per step (all sequences, prompt + response)
    rollout_batch: PosInt  # sequences generated at once

    @property
    def step_s(self) -> float:
        return self.rollout_s + self.scoring_s + self.update_s + self.sync_s + self.offload_s


class RLPlan(Base):
    setup: RLSetup
    policy: str
    gpu: str
    n_gpus: PosInt  # all GPUs (training + rollout when disaggregated)
    roles: tuple[Role, ...]
    step: RLStep
    per_gpu_bytes: NonNegFloat  # the busiest GPU at the busiest phase
    gpu_memory_bytes: PosFloat
    fits: bool
    host_bytes: NonNegFloat = 0.0  # host RAM per training node: offloaded frozen weights and optimizer states
    update: Estimate  # the policy's training estimate (memory breakdown, trainer, factors)
    rollout: Estimate  # the rollout engine's inference estimate
    notes: tuple[str, ...] = ()
    deadline: Finding | None = None  # rules.deadline.rl_deadline on this plan, when --deadline was given

    @property
    def total_s(self) -> float | None:
        """The run's wall-clock time: its steps one after another (None: neither --steps nor --tokens)."""
        return None if self.setup.n_steps is None else self.setup.n_steps * self.step.step_s

    @property
    def gpu_hours(self) -> float | None:
        return None if self.total_s is None else self.total_s * self.n_gpus / 3600


class RLRecommendation(Base):
    plan: RLPlan | None
    build: Option | None
    notes: tuple[str, ...] = ()
    deadline_missed: bool = False  # builds held every role, but none ended the run within --deadline
    # disaggregated: 2 machines, one trains and one runs the rollout engine; `build` is then the whole order (n_nodes
    # counts both machines, with a NIC each for the weight sync: recommend.replicate)
    n_builds: PosInt = 1

    @property
    def total_price_usd(self) -> float | None:
        """What the plan costs: the whole order, every machine (None without a build or a price)."""
        return None if self.build is None else self.build.total_price_usd

    currency: str = "USD"
    fx_rate: PosFloat = 1.0
    runner_up: Option | None = None  # the next build, cheapest first, on which every role fits too
    runner_up_plan: RLPlan | None = None
    training: Recommendation | None = None  # the policy's training builds: the request, rejections, near misses
