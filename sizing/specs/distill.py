"""Knowledge distillation: a teacher's knowledge moved into a student, as a plan of phases.

Offline (Hinton et al. 2015 soft labels, stored): phase 1 runs the teacher over the dataset and keeps the top-k
log-probabilities and token ids of every position; phase 2 trains the student on them. Online: every training step
runs the teacher's forward pass beside the student's (TRL GKDTrainer, DistillKit online). Sequence-level (Kim & Rush
2016; how DeepSeek made the R1 distills): the teacher generates responses, then the student is fine-tuned on them.
"""

from __future__ import annotations

from typing import Literal

from .base import Base, NonNegFloat, PosFloat, PosInt
from .results import Estimate, Option, Recommendation

DistillMode = Literal["offline", "online", "sequence"]


class DistillSetup(Base):
    mode: DistillMode
    top_k: PosInt = 20  # vLLM's max_logprobs default: what a teacher pass served by vLLM returns per position
    tokens: PosFloat  # training tokens per epoch (offline/online); sequence-level: samples x (prompt + response)
    epochs: PosFloat = 1.0
    samples: PosInt | None = None  # sequence-level: responses the teacher generates
    response_tokens: PosInt | None = None  # sequence-level: tokens per generated response


class Phase(Base):
    """One phase of a plan: what runs, its estimate on the plan's GPUs, how long it takes and what it writes."""

    name: Literal["teacher-labels", "teacher-generation", "student-training", "online"]
    task: str
    model: str
    estimate: Estimate
    tokens: PosFloat  # tokens the phase processes (teacher: forward or generated; student: trained x epochs)
    time_s: PosFloat
    storage_bytes: NonNegFloat = 0.0  # what the phase writes to the data drives (top-k labels, generated text)
    write_bytes_s: NonNegFloat = 0.0  # storage / time: the write rate the data drives must sustain
    best: Option | None = None  # the cheapest build for this phase alone (recommend only)


class DistillPlan(Base):
    """Every phase on one set of GPUs, and the total."""

    setup: DistillSetup
    teacher: str
    student: str
    phases: tuple[Phase, ...]
    fits: bool  # every phase fits the GPUs

    @property
    def total_time_s(self) -> float:
        return sum(p.time_s for p in self.phases)

    @property
    def storage_bytes(self) -> float:
        return sum(p.storage_bytes for p in self.phases)


class DistillRecommendation(Base):
    """`recommend --task distill`: the plan in each mode on the build that runs all its phases, cheapest first, and
    each phase's own best build."""

    plans: tuple[DistillPlan, ...]  # the requested mode, or offline and online when none was named
    build: Option | None  # one build for every phase of the chosen plan (None: no build runs them all)
    chosen: DistillPlan | None  # the plan with the shortest total time on that build
    other_builds: tuple[Option, ...] = ()  # runners-up that also run every phase
    notes: tuple[str, ...] = ()
    currency: str = "USD"  # prices are shown in USD
    fx_rate: PosFloat = 1.0
    other_plans: tuple[DistillPlan, ...] = ()  # the fastest fitting plan on each of other_builds
    training: Recommendation | None = None  # the student's training builds: the request, rejections, near misses
