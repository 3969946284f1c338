"""The sentences and tables a distillation or RL report adds to the procurement report's sections (View inherits
them): the phases, the modes and which is cheaper, the roles, the placement and the step split. Every word from the
message catalog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .procurement import BuildFacts, DistillFacts, ProcurementReport, RLFacts
from .procurement_format import Fmt

Table = tuple[tuple[str, ...], Sequence[tuple[str, ...]]]  # a header and its rows


class PlanView(Fmt):
    def write_rate(self, bytes_s: float) -> str:
        """Decimal bytes per second, as drive vendors rate writes; MB/s with two decimals below 1 MB/s."""
        shown = f"{bytes_s / 1e6:,.2f} MB" if bytes_s < 1e6 else self.dbytes(bytes_s)
        return self.t("unit.per_s", v=shown)

    def phase(self, name: str) -> str:
        return self.t(f"phase.{name}")

    def plan_summary(self, r: ProcurementReport, common: dict[str, Any]) -> str:
        b = r.recommended
        cost = self.small_money(b.ownership.cost_per_run)
        if r.distill is not None:
            d = r.distill
            return self.t(
                "summary.distill",
                mode=self.t(f"mode.{d.mode}"),
                teacher=d.teacher,
                student=d.student,
                time=self.seconds(d.total_time_s),
                storage=self.dbytes(d.storage_bytes),
                cost=cost,
                **common,
            )
        assert r.rl is not None
        q = r.rl
        return self.t(
            "summary.rl",
            algo=q.algo.upper(),
            placement=self.t(f"placement.{q.placement}"),
            step=self.seconds(q.step_s),
            steps=self.num(q.n_steps),
            time=self.seconds(q.step_s * q.n_steps),
            cost=cost,
            **common,
        )

    def plan_performance_lines(self, b: BuildFacts, r: ProcurementReport) -> list[str]:
        band = self.pct(b.performance.band)
        hours = self.num(b.performance.gpu_hours or 0, 1)
        if r.distill is not None:
            d = r.distill
            lines = [
                self.t(
                    "perf.phase",
                    phase=self.phase(p.name),
                    model=p.model,
                    tokens=self.count(p.tokens),
                    rate=self.rate(p.tokens_per_s),
                    time=self.seconds(p.time_s),
                )
                for p in d.phases
            ]
            return [
                *lines,
                self.t("perf.distill_total", time=self.seconds(d.total_time_s), band=band, gpu_hours=hours),
            ]
        assert r.rl is not None
        q = r.rl
        return [
            self.t(
                "perf.rl_step",
                step=self.seconds(q.step_s),
                band=band,
                sequences=self.num(q.sequences),
                tokens=self.count(q.tokens_per_step),
            ),
            self.t("perf.rl_run", steps=self.num(q.n_steps), time=self.seconds(q.step_s * q.n_steps), gpu_hours=hours),
        ]

    def phase_table(self, d: DistillFacts) -> Table:
        head = tuple(
            self.t(k)
            for k in (
                "col.phase",
                "col.model",
                "col.tokens",
                "col.rate",
                "col.time",
                "col.memory_gpu",
                "col.writes",
                "col.write_rate",
                "col.best_alone",
            )
        )
        rows = [
            (
                self.phase(p.name),
                p.model,
                self.count(p.tokens),
                self.rate(p.tokens_per_s),
                self.seconds(p.time_s),
                f"{self.gib(p.memory.per_gpu_bytes)} / {self.gib(p.memory.capacity_bytes)}",
                self.dbytes(p.storage_bytes) if p.storage_bytes else "-",
                self.write_rate(p.write_bytes_s) if p.write_bytes_s else "-",
                f"{p.best}, {self.money0(p.best_price)}" if p.best else "-",
            )
            for p in d.phases
        ]
        return head, rows

    def mode_table(self, d: DistillFacts) -> Table:
        head = tuple(self.t(k) for k in ("col.mode", "col.time", "col.writes", "col.cost_run"))
        rows = [
            (
                self.t(f"mode.{m.mode}") + (" ✓" if m.mode == d.mode else ""),
                self.seconds(m.time_s) if m.fits else self.t("mode.no_fit"),
                self.dbytes(m.storage_bytes) if m.storage_bytes else "-",
                self.small_money(m.cost_per_run) if m.cost_per_run is not None else "-",
            )
            for m in d.modes
        ]
        return head, rows

    def distill_lines(self, d: DistillFacts) -> list[str]:
        """Which mode is cheaper and why, and where the soft labels go."""
        lines = [self.t(f"mode.why.{d.mode}", mode=self.t(f"mode.{d.mode}"), top_k=d.top_k)]
        others = [m for m in d.modes if m.mode != d.mode]
        for m in others:
            key = "mode.other_fits" if m.fits else "mode.other_no_fit"
            lines.append(self.t(key, mode=self.t(f"mode.{m.mode}"), time=self.seconds(m.time_s)))
        labels = [p for p in d.phases if p.storage_bytes]
        for p in labels:
            lines.append(
                self.t(
                    "distill.storage",
                    phase=self.phase(p.name),
                    size=self.dbytes(p.storage_bytes),
                    rate=self.write_rate(p.write_bytes_s),
                    drives=self.dbytes(d.drive_bytes),
                )
            )
        return lines

    def role_table(self, q: RLFacts) -> Table:
        head = tuple(self.t(k) for k in ("col.role", "col.model", "col.trains", "col.where", "col.memory_per_gpu"))
        rows = [
            (
                self.t(f"role.{x.name}"),
                x.model,
                self.t("xlsx.yes") if x.trains else self.t("xlsx.no"),
                self.t(f"where.{x.gpus}"),
                self.gib(x.per_gpu_bytes),
            )
            for x in q.roles
        ]
        return head, rows

    def step_table(self, q: RLFacts) -> Table:
        head = (self.t("col.stage"), self.t("col.time"), self.t("col.step_share"))
        parts = [("rollout", q.rollout_s), ("scoring", q.scoring_s), ("update", q.update_s), ("sync", q.sync_s)]
        if q.offload_s > 0:  # --rl-offload: the frozen weights streamed from host RAM for every scoring forward
            parts.append(("offload", q.offload_s))
        rows = [(self.t(f"step.{k}"), self.seconds(v), self.pct(v / q.step_s)) for k, v in parts]
        rows.append((self.t("step.total"), self.seconds(q.step_s), "100%"))
        return head, rows

    def rl_lines(self, q: RLFacts) -> list[str]:
        return [
            self.t(
                "rl.setup",
                algo=q.algo.upper(),
                prompts=q.prompts_per_step,
                group=q.group_size,
                response=self.num(q.response_tokens),
                prompt=self.num(q.prompt_tokens),
                sequences=self.num(q.sequences),
            ),
            self.t(
                f"placement.why.{q.placement}",
                n=q.n_gpus,
                engine=q.rollout_engine,
                batch=self.num(q.rollout_batch),
            ),
            self.t("rl.host", host=self.gib(q.host_bytes), ram=self.gib(q.ram_bytes))
            if q.host_bytes
            else self.t("rl.no_host", ram=self.gib(q.ram_bytes)),
        ]

    def plan_assumption_rows(self, r: ProcurementReport) -> list[tuple[str, str]]:
        if r.distill is not None:
            d = r.distill
            rows = [
                (self.t("as.teacher"), d.teacher),
                (self.t("as.mode"), self.t(f"mode.{d.mode}")),
                (self.t("as.top_k"), str(d.top_k)),
            ]
            if d.samples:
                rows.append((self.t("as.samples"), self.num(d.samples)))
            return rows
        if r.rl is not None:
            q = r.rl
            return [
                (self.t("as.algo"), q.algo.upper()),
                (self.t("as.placement"), self.t(f"placement.{q.placement}")),
                (self.t("as.rollout_engine"), q.rollout_engine),
                (self.t("as.steps"), self.num(q.n_steps)),
            ]
        return []

    def plan_lines(self, r: ProcurementReport) -> list[str]:
        if r.distill is not None:
            return self.distill_lines(r.distill)
        return self.rl_lines(r.rl) if r.rl is not None else []

    def plan_tables(self, r: ProcurementReport) -> list[tuple[str, Table]]:
        """The plan's tables with their headings (the report's section 3 and the spreadsheet's plan sheet)."""
        if r.distill is not None:
            return [
                (self.t("h.phases"), self.phase_table(r.distill)),
                (self.t("h.modes"), self.mode_table(r.distill)),
            ]
        if r.rl is not None:
            return [(self.t("h.roles"), self.role_table(r.rl)), (self.t("h.step"), self.step_table(r.rl))]
        return []
