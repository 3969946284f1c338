"""The report's sections as rows and sentences in one language, shared by the Markdown and HTML templates: the
templates lay them out, this module words them (every word from the message catalog)."""

from __future__ import annotations

from collections.abc import Callable

from .procurement import (
    BTU_H_PER_W,
    BomLine,
    BuildFacts,
    Check,
    Facilities,
    Miss,
    ProcurementReport,
    Risk,
)
from .procurement_view_plans import PlanView

Row = tuple[str, str]
Row3 = tuple[str, str, str]


class View(PlanView):
    """Fmt plus the report's sentences and table rows (PlanView: a distillation's or RL loop's)."""

    def label(self, b: BuildFacts) -> str:
        key = "build.label_nodes" if b.n_nodes > 1 else "build.label"
        return self.t(key, n=b.n_gpus, gpu=b.gpu_name, chassis=b.chassis_name, nodes=b.n_nodes)

    def miss_label(self, m: Miss) -> str:
        key = "build.shape_nodes" if m.n_nodes > 1 else "build.shape"
        return self.t(key, n=m.n_gpus, gpu=m.gpu, chassis=m.chassis, nodes=m.n_nodes)

    def flags(self, ln: BomLine) -> str:
        out = []
        if ln.unit_price is None:
            out.append(self.t("flag.used_only" if ln.note and ln.price_kind == "used" else "flag.unpriced"))
        if ln.stale:
            out.append(self.t("flag.stale"))
        if ln.used:
            out.append(self.t("flag.used"))
        if ln.unconfirmed:
            out.append(self.t("flag.unconfirmed", cols=", ".join(ln.unconfirmed)))
        return "; ".join(out) or "-"

    def price(self, b: BuildFacts) -> str:
        """The build's price with VAT where asked; the priced parts as a lower bound while a part is unpriced."""
        bom = b.bom
        if bom.total_with_vat is not None:
            key = "price.with_vat" if bom.vat is not None else "price.total"
            return self.t(key, amount=self.money0(bom.total_with_vat))
        return self.t("price.lower", amount=self.money0(b.ownership.hardware), n=len(bom.unpriced))

    def summary(self, r: ProcurementReport) -> str:
        b, w = r.recommended, r.workload
        p, fac = b.performance, b.facilities
        common = {
            "build": self.label(b),
            "model": r.model_name,
            "price": self.price(b),
            "wall": self.watts(fac.wall_w),
            "heat": self.num(fac.heat_btu_h),
            "circuits": self.t("fac.circuits_value", n=fac.n_circuits, circuit=fac.circuit),
            "energy": self.money0(fac.energy_cost_year),
            "utilisation": self.pct(r.utilisation),
            "band": self.pct(p.band),
            "n_options": r.n_options,
        }
        if r.distill is not None or r.rl is not None:
            return self.plan_summary(r, common)
        if p.train_tokens_per_s is not None:
            run = self.t("summary.run", time=self.seconds(p.run_s), tokens=self.count(w.tokens or 0)) if p.run_s else ""
            return self.t(
                "summary.training",
                task=w.task,
                trainer=w.trainer or "-",
                rate=self.rate(p.train_tokens_per_s),
                run=run,
                **common,
            )
        return self.t(
            "summary.inference",
            engine=w.engine_name,
            precision=w.precision,
            users=w.users,
            context=self.num(w.prompt_tokens + w.new_tokens),
            user_rate=self.rate(p.decode_tokens_per_s or 0),
            total_rate=self.rate(p.decode_tokens_per_s_total or 0),
            ttft=self.seconds(p.ttft_one_user_s or 0),
            **common,
        )

    def throughput(self, b: BuildFacts) -> str:
        return self.rate(b.performance.throughput)

    def space(self, fac: Facilities) -> str:
        if fac.rack_units:
            key = "fac.space_rack_switch" if fac.has_switch else "fac.space_rack"
            return self.t(key, u=fac.rack_units, nodes=fac.n_nodes)
        return self.t(f"form.{fac.form_factor}", nodes=fac.n_nodes)

    def compare_rows(self, b: BuildFacts, u: BuildFacts, r: ProcurementReport) -> list[Row3]:
        def row(key: str, fn: Callable[[BuildFacts], str]) -> Row3:
            return (self.t(key), fn(b), fn(u))

        rows = [
            row("cmp.gpus", self.label),
            row("cmp.cpu", lambda x: x.cpu),
            row("cmp.ram", lambda x: self.gib(x.ram_bytes)),
            row("cmp.price", self.price),
            row("cmp.throughput_training" if r.workload.task != "inference" else "cmp.throughput", self.throughput),
            row("cmp.memory", lambda x: f"{self.gib(x.memory.per_gpu_bytes)} / {self.gib(x.memory.capacity_bytes)}"),
            row("cmp.link", lambda x: self.t(f"link.{x.gpu_link}")),
            row("cmp.wall", lambda x: self.watts(x.facilities.wall_w)),
            row("cmp.space", lambda x: self.space(x.facilities)),
            row("cmp.noise", lambda x: self.t(f"noise_class.{x.facilities.noise}")),
            row("cmp.tco", lambda x: self.money0(x.ownership.total) + ("" if x.ownership.complete else "+")),
        ]
        return rows

    def performance_lines(self, b: BuildFacts, r: ProcurementReport) -> list[str]:
        p = b.performance
        band = self.pct(p.band)
        if r.distill is not None or r.rl is not None:
            return self.plan_performance_lines(b, r)
        if p.train_tokens_per_s is not None:
            lines = [
                self.t("perf.train", rate=self.rate(p.train_tokens_per_s), band=band, bound=self.t(f"bound.{p.bound}")),
                self.t("perf.step", step=self.seconds(p.step_s or 0), mfu=self.pct(p.mfu or 0)),
            ]
            if p.run_s:
                tokens = self.count(r.workload.tokens or 0)
                hours = self.num(p.gpu_hours or 0, 1)
                lines.append(
                    self.t(
                        "perf.run", time=self.seconds(p.run_s), tokens=tokens, epochs=r.workload.epochs, gpu_hours=hours
                    )
                )
            else:
                lines.append(self.t("perf.no_tokens"))
            return lines
        return [
            self.t("perf.decode", user=self.rate(p.decode_tokens_per_s or 0), users=r.workload.users, band=band),
            self.t(
                "perf.decode_total", total=self.rate(p.decode_tokens_per_s_total or 0), bound=self.t(f"bound.{p.bound}")
            ),
            self.t("perf.prefill", rate=self.rate(p.prefill_tokens_per_s or 0)),
            self.t(
                "perf.ttft",
                one=self.seconds(p.ttft_one_user_s or 0),
                all=self.seconds(p.ttft_all_users_s or 0),
                users=r.workload.users,
            ),
        ]

    def assumption_rows(self, r: ProcurementReport) -> list[Row]:
        w = r.workload
        rows = [
            (
                self.t("as.model"),
                self.t("as.model_value", name=r.model_name, params=self.count(r.n_params), requested=r.model_requested),
            ),
            (self.t("as.task"), self.t(f"task.{w.task}") if self.has(f"task.{w.task}") else w.task),
        ]
        if r.assumed:
            rows.append((self.t("as.shape"), r.assumed if self.lang == "en" else self.t("as.shape_generic")))
        rows += self.plan_assumption_rows(r)
        if w.trainer:
            rows += [
                (self.t("as.trainer"), w.trainer),
                (self.t("as.precision"), w.precision),
                (self.t("as.seq_len"), self.num(w.prompt_tokens)),
                (self.t("as.micro_batch"), self.t("as.micro_batch_value", batch=w.users, accum=w.grad_accum or 1)),
                (self.t("as.sharding"), f"{w.sharding}, {w.optimizer}, {self.t('as.recompute')} {w.recompute}"),
                (
                    self.t("as.tokens"),
                    self.t("as.tokens_value", tokens=self.count(w.tokens), epochs=w.epochs) if w.tokens else "-",
                ),
            ]
        else:
            rows += [
                (self.t("as.engine"), w.engine_name),
                (self.t("as.precision"), self.t("as.precision_value", weights=w.precision, kv=w.kv_precision)),
                (self.t("as.users"), str(w.users)),
                (
                    self.t("as.context"),
                    self.t(
                        "as.context_value",
                        context=self.num(w.prompt_tokens + w.new_tokens),
                        prompt=self.num(w.prompt_tokens),
                        new=self.num(w.new_tokens),
                    ),
                ),
            ]
        rows += [
            (self.t("as.link"), self.t(f"link.{r.recommended.gpu_link}")),
            (
                self.t("as.objective"),
                self.t(f"objective.{r.objective}") if self.has(f"objective.{r.objective}") else r.objective,
            ),
        ]
        return rows

    def facility_rows(self, fac: Facilities) -> list[Row]:
        rows = [
            (self.t("fac.sustained"), self.watts(fac.sustained_w)),
            (self.t("fac.transient"), self.watts(fac.transient_w)),
            (self.t("fac.wall"), self.watts(fac.wall_w)),
        ]
        if fac.gpu_power_limit_w:
            rows += [
                (self.t("fac.full_wall"), self.watts(fac.full_wall_w)),
                (
                    self.t("fac.power_cap"),
                    self.t("fac.power_cap_value", cap=self.watts(fac.gpu_power_limit_w), tdp=self.watts(fac.gpu_tdp_w)),
                ),
            ]
        rows += [
            (self.t("fac.psu"), self.t("fac.psu_value", n=fac.n_psus, name=fac.psu_name, w=self.watts(fac.psu_w))),
            (
                self.t("fac.psu_capacity"),
                self.t("fac.psu_capacity_value", w=self.watts(fac.psu_capacity_w), eff=self.pct(fac.psu_efficiency)),
            ),
            (
                self.t("fac.redundancy"),
                self.t(f"redundancy.{fac.redundancy}") if self.has(f"redundancy.{fac.redundancy}") else fac.redundancy,
            ),
            (
                self.t("fac.circuits"),
                self.t(
                    "fac.circuits_each", n=fac.n_circuits, circuit=fac.circuit, w=self.watts(fac.circuit_continuous_w)
                ),
            ),
            (self.t("fac.heat"), self.t("fac.heat_value", w=self.watts(fac.heat_w), btu=self.num(fac.heat_btu_h))),
            (self.t("fac.space"), self.space(fac)),
            (self.t("fac.noise"), self.t(f"noise_class.{fac.noise}")),
            (
                self.t("fac.energy"),
                self.t("fac.energy_value", kwh=self.num(fac.energy_kwh_year), cost=self.money0(fac.energy_cost_year)),
            ),
        ]
        return rows

    def ownership_rows(self, b: BuildFacts, u: BuildFacts | None, r: ProcurementReport) -> list[Row3]:
        builds = [x for x in (b, u) if x is not None]

        def row(key: str, fn: Callable[[BuildFacts], str]) -> Row3:
            cells = [fn(x) for x in builds] + [""] * (2 - len(builds))
            return (self.t(key, years=self.num(r.years, 1 if r.years % 1 else 0)), cells[0], cells[1])

        def plus(x: BuildFacts) -> str:
            return "" if x.ownership.complete else "+"

        rows = [
            row(
                "tco.hardware_vat" if r.vat is not None else "tco.hardware",
                lambda x: self.money0(x.ownership.hardware) + plus(x),
            ),
            row("tco.energy_year", lambda x: self.money0(x.ownership.energy_year)),
            row("tco.energy_total", lambda x: self.money0(x.ownership.energy_total)),
            row("tco.total", lambda x: self.money0(x.ownership.total) + plus(x)),
        ]
        if r.workload.task == "inference":
            rows += [
                row("tco.tokens", lambda x: self.count(x.ownership.tokens_total or 0)),
                row("tco.per_mtok", lambda x: self.small_money(x.ownership.cost_per_mtok) + plus(x)),
                row("tco.energy_per_mtok", lambda x: self.small_money(x.ownership.energy_per_mtok)),
            ]
        elif b.ownership.run_s:
            run = "tco.steps_" if r.rl is not None else "tco."  # RL: a run is RL_STEPS steps
            rows += [
                row(run + "run_time", lambda x: self.seconds(x.ownership.run_s or 0)),
                row(run + "per_run", lambda x: self.small_money(x.ownership.cost_per_run) + plus(x)),
                row("tco.energy_per_run", lambda x: self.small_money(x.ownership.energy_per_run)),
                row(run + "runs", lambda x: self.num(x.ownership.runs_in_period or 0, 1)),
            ]
        return rows

    def risk(self, risk: Risk) -> str:
        return self.t(f"risk.{risk.key}.text", **risk.params)

    def pass_when(self, c: Check) -> str:
        if c.band is not None and c.expected is not None and not isinstance(c.expected, str):
            low = c.expected * (1 - c.band)
            return self.t(
                "accept.pass.throughput",
                low=self.value(c.unit, low),
                est=self.value(c.unit, c.expected),
                band=self.pct(c.band),
            )
        if c.band is not None:
            key = "accept.pass.memory_ratio" if c.metric == "bench_memory" else "accept.pass.ratio"
            return self.t(key, low=f"{1 - c.band:.2f}", high=f"{1 + c.band:.2f}", band=self.pct(c.band))
        return self.t(f"accept.pass.{c.metric}", v=self.value(c.unit, c.expected))

    def source_lines(self, r: ProcurementReport) -> list[str]:
        lines = [self.t("src.prices", date=r.as_of or "-")]
        if r.currency != "USD":
            lines.append(
                self.t("src.fx", rate=r.fx_rate, currency=r.currency, date=r.fx_date or "-", source=r.fx_source or "-")
            )
        if r.vat is not None:
            lines.append(self.t("src.vat", rate=self.pct(r.vat)))
        tariff = self.small_money(r.tariff)
        given = r.tariff_source == "--tariff"
        lines.append(self.t("src.tariff_given" if given else "src.tariff_default", tariff=tariff))
        lines += [
            self.t("src.use", utilisation=self.pct(r.utilisation), years=self.num(r.years, 1 if r.years % 1 else 0)),
            self.t("src.btu", factor=BTU_H_PER_W),
            self.t("src.transient"),
            self.t("src.band"),
            self.t("src.estimates"),
            self.t("src.data", data=r.data) if r.data else self.t("src.data_bundled"),
        ]
        return lines
