"""The procurement report (sizing/report/procurement*.py, templates/): goldens of Markdown and HTML in English and
Chinese on the frozen catalog with test prices (regenerated only with --regen-golden), totals that are the sums of
the lines, Chinese headings without English, names rendered inert, and the message catalogs in step."""

from __future__ import annotations

import csv
import json
import re
import shutil
import string
from pathlib import Path

import pytest

from sizing import answers
from sizing import catalog as cat
from sizing.report import ReportOptions, build_report, render, report_of
from sizing.report.procurement_checks import is_controlled
from sizing.report.procurement_format import messages
from sizing.scenarios import recommend
from sizing.specs import RecommendRequest, SizingError

GOLDEN = Path(__file__).parent / "golden"
DAY = "2026-06-01"  # price ages and the report's date: the goldens do not move with the calendar
OPTIONS = ReportOptions(date=DAY)
CASES = {
    "7b": (RecommendRequest(model="7b", as_of=DAY), OPTIONS),
    "lora-cny": (
        RecommendRequest(model="qwen2.5-7b", task="lora", tokens=2e8, currency="CNY", as_of=DAY),
        ReportOptions(date=DAY, vat=0.13, tariff=0.8, utilisation=0.5, years=4),
    ),
    "distill": (
        RecommendRequest(model="qwen2.5-0.5b", task="distill", teacher="qwen2.5-7b", tokens=5e7, as_of=DAY),
        OPTIONS,
    ),
    "grpo": (RecommendRequest(model="qwen2.5-0.5b", task="grpo", as_of=DAY), OPTIONS),
}
GOLDENS = [
    ("7b", "md"),
    ("7b", "html"),
    ("lora-cny", "md"),
    *((c, x) for c in ("distill", "grpo") for x in ("md", "html")),
]
SAME_IN_BOTH = {"price.total", "accept.pass.power_limit", "accept.pass.pcie_width"}  # a value alone: "{amount}"
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def reports(priced):
    return {name: report_of(answers.recommend(priced, req), opts) for name, (req, opts) in CASES.items()}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(("case", "fmt"), GOLDENS)
def test_report_golden(reports, request, case, fmt, lang):
    path = GOLDEN / f"procurement-{case}-{lang}.{fmt}"
    text = render(reports[case], fmt, lang)
    if request.config.getoption("--regen-golden"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; run pytest --regen-golden and review it"
    assert path.read_text(encoding="utf-8") == text, f"{path.name} changed; review, then pytest --regen-golden"


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_totals_are_the_sums_of_the_lines(reports, case):
    out = json.loads(render(reports[case], "json", "en"))
    builds = [out["recommended"], out["runner_up"]]
    for b in builds:
        bom = b["bom"]
        lines = [ln["line_total"] for ln in bom["lines"] if ln["line_total"] is not None]
        assert round(sum(lines), 2) == bom["priced_subtotal"] == round(sum(k["amount"] for k in bom["by_kind"]), 2)
        for ln in bom["lines"]:
            assert ln["line_total"] == round(ln["unit_price"] * ln["quantity"], 2)
        assert bom["total"] == bom["priced_subtotal"]  # the test prices price every part
        vat = out["vat"] or 0.0
        assert bom["total_with_vat"] == round(bom["total"] + round(bom["total"] * vat, 2), 2)
        assert b["ownership"]["hardware"] == bom["total_with_vat"]
        energy = b["facilities"]["energy_cost_year"] * out["years"]
        assert b["ownership"]["total"] == pytest.approx(bom["total_with_vat"] + energy)


def test_prices_in_cny_at_the_catalogs_rate(reports, priced):
    r = reports["lora-cny"]
    rate = priced.usd_to("CNY")
    assert rate is not None and (r.currency, r.fx_rate, r.fx_date) == ("CNY", rate.rate, rate.rate_date)
    usd = recommend(priced, CASES["lora-cny"][0].model_copy(update={"currency": "USD"}))
    first = usd.options[0].lines[0]
    assert r.recommended.bom.lines[0].unit_price == round(first.unit_price_usd * rate.rate, 2)


def test_facilities_figures(reports):
    f = reports["7b"].recommended.facilities
    assert f.heat_w == f.wall_w and f.heat_btu_h == pytest.approx(f.wall_w * 3.412)
    assert f.energy_kwh_year == pytest.approx(f.wall_w / 1000 * 8760 * 0.6)
    assert f.energy_cost_year == pytest.approx(f.energy_kwh_year * 0.12)
    assert f.transient_w > f.sustained_w and f.psu_capacity_w >= f.sustained_w
    assert f.noise in ("server", "blower", "open_air")


def test_cost_per_token_and_per_run(reports):
    inf = reports["7b"].recommended
    tokens = inf.performance.decode_tokens_per_s_total * 3600 * 8760 * 0.6 * 3
    assert inf.ownership.cost_per_mtok == pytest.approx(inf.ownership.total / (tokens / 1e6))
    train = reports["lora-cny"].recommended
    assert train.ownership.run_s == train.performance.run_s and train.ownership.cost_per_run is not None
    hours = train.ownership.run_s / 3600
    share = train.ownership.hardware * hours / (4 * 8760 * 0.5)
    energy = train.facilities.wall_w / 1000 * hours * 0.8
    assert train.ownership.cost_per_run == pytest.approx(share + energy)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_chinese_headings_have_no_english(reports, case, fmt):
    text = render(reports[case], fmt, "zh")
    if fmt == "md":
        headings = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    else:
        headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<(?:h[1-3]|th)[^>]*>(.*?)</(?:h[1-3]|th)>", text)]
    assert len(headings) > 15
    english = [h for h in headings if LATIN.search(h)]
    assert not english, english
    en = set(render(reports[case], fmt, "en").splitlines())
    assert "## 2. 物料清单" in text or "物料清单</h2>" in text
    assert not en & {line for line in text.splitlines() if line.startswith("## ")}


def test_sections_in_the_issues_order(reports):
    text = render(reports["7b"], "md", "en")
    sections = re.findall(r"^## (\d)\. ", text, re.M)
    assert sections == list("12345678")
    for needle in ("Grand total", "BTU/h", "Cost per million tokens", "GeForce driver licence", "sizing bench"):
        assert needle in text


def test_message_catalogs_match():
    en, zh = messages("en"), messages("zh")
    assert set(en) == set(zh)
    fields = string.Formatter()
    for key in en:
        names = [{f[1] for f in fields.parse(m[key]) if f[1]} for m in (en, zh)]
        assert names[0] == names[1], key
        assert key in SAME_IN_BOTH or en[key] != zh[key], f"{key} is not translated"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, priced_dir: Path) -> cat.Catalog:
    """The priced catalog with a model whose alias and name carry script tags."""
    folder = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(priced_dir, folder)
    path = folder / "models.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["id"] == "llama-3-8b":
            row["aliases"] += ";<script>alert(1)</script>"
            row["name"] = 'Llama <script>alert("x")</script> 8B'
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return cat.load(folder)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_script_in_a_model_alias_renders_inert(hostile, lang):
    r = build_report(recommend(hostile, RecommendRequest(model="<script>alert(1)</script>", as_of=DAY)), OPTIONS)
    assert r.model_requested == "<script>alert(1)</script>" and "<script>" in r.model_name
    html = render(r, "html", lang)
    assert "<script" not in html.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)" in html
    md = render(r, "md", lang)
    assert not re.search(r"(?<!\\)<script", md) and r"\<script\>" in md  # escaped: Markdown shows it as text


def test_unpriced_parts_leave_no_total(snapshot):
    r = build_report(recommend(snapshot, RecommendRequest(model="7b", as_of=DAY)), OPTIONS)
    bom = r.recommended.bom
    assert bom.unpriced and bom.total is None and bom.total_with_vat is None
    assert bom.priced_subtotal == round(sum(ln.line_total or 0 for ln in bom.lines), 2)
    assert not r.recommended.ownership.complete
    assert "unpriced" in {k.key for k in r.risks} and "stale_prices" in {k.key for k in r.risks}
    assert "+" in render(r, "md", "en").split("## 5.")[1].split("## 6.")[0]


def test_risks_name_the_controlled_and_consumer_parts(priced):
    r = build_report(recommend(priced, RecommendRequest(model="deepseek-r1", precision="fp8", as_of=DAY)), OPTIONS)
    assert r.recommended.gpu_id.startswith("h") and "export_control" in {k.key for k in r.risks}
    assert is_controlled("h20") and is_controlled("rtx-4090") and is_controlled("a100-80gb-sxm")
    assert not is_controlled("rtx-4090-d") and not is_controlled("rtx-3090") and not is_controlled("l20")
    geforce = build_report(recommend(priced, CASES["7b"][0]), OPTIONS)
    keys = {k.key for k in geforce.risks}
    assert {"geforce_licence", "consumer_warranty"} <= keys
    assert ("export_control" in keys) == is_controlled(geforce.recommended.gpu_id)  # 7b's cheapest: a 4090 box


def test_acceptance_test_names_the_bench_and_the_figures(reports):
    a = reports["7b"].acceptance
    b = reports["7b"].recommended
    assert "sizing bench" in a.bench_command and f"--gpu {b.gpu_id}" in a.bench_command
    metrics = {c.metric: c for c in a.checks}
    assert metrics["gpu_count"].expected == b.n_gpus_per_node
    assert metrics["serve_decode"].expected == b.performance.decode_tokens_per_s_total
    assert metrics["bench_decode"].band == 0.12
    train = reports["lora-cny"].acceptance
    assert "train_throughput" in {c.metric for c in train.checks} and train.load_command is None


def test_no_build_no_report(priced):
    r = recommend(priced, RecommendRequest(model="405b", form_factor="tower", as_of=DAY))
    assert not r.options
    with pytest.raises(SizingError, match="no build passes"):
        build_report(r, OPTIONS)


def test_readme_documents_every_json_key():
    from sizing.report import ProcurementReport

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### `sizing report`")[1].split("## Machine-readable output")[0]
    missing = [k for k in ("lang", *ProcurementReport.model_fields) if f"`{k}`" not in section]
    assert not missing, f"README's sizing report section does not document {missing}"
    for link in re.findall(r"\]\((docs/examples/[^)]+)\)", section):
        assert (Path(__file__).parent.parent / link).exists(), link


def test_distill_report_costs_the_whole_plan(reports):
    """The run is every phase one after another; each mode on the build is costed like the run; the cheaper mode is
    the chosen one; the soft labels' size and write rate are the teacher phase's."""
    r = reports["distill"]
    d, b = r.distill, r.recommended
    assert d is not None and r.rl is None and r.workload.task == "distill"
    assert [p.name for p in d.phases] == ["teacher-labels", "student-training"]
    assert d.total_time_s == pytest.approx(sum(p.time_s for p in d.phases))
    assert b.ownership.run_s == pytest.approx(d.total_time_s)
    hours = d.total_time_s / 3600
    share = b.ownership.hardware * hours / (3 * 8760 * 0.6)
    assert b.ownership.cost_per_run == pytest.approx(share + b.facilities.wall_w / 1000 * hours * 0.12)
    teacher = d.phases[0]
    assert teacher.storage_bytes == d.storage_bytes > 0
    assert teacher.write_bytes_s == pytest.approx(teacher.storage_bytes / teacher.time_s)
    chosen = next(m for m in d.modes if m.mode == d.mode)
    assert chosen.cost_per_run == pytest.approx(b.ownership.cost_per_run)
    assert all(m.cost_per_run is None or m.cost_per_run >= chosen.cost_per_run for m in d.modes)
    busiest = max(p.memory.per_gpu_bytes for p in d.phases)
    assert b.memory.per_gpu_bytes == busiest <= b.memory.capacity_bytes


def test_rl_report_splits_the_step_and_costs_1000_steps(reports):
    r = reports["grpo"]
    q, b = r.rl, r.recommended
    assert q is not None and r.distill is None and r.workload.task == "grpo"
    assert {x.name for x in q.roles} >= {"policy", "reference", "rollout"}
    assert q.step_s == pytest.approx(q.rollout_s + q.scoring_s + q.update_s + q.sync_s + q.offload_s)
    assert b.ownership.run_s == pytest.approx(1000 * q.step_s)
    assert b.performance.step_s == pytest.approx(q.step_s)
    # the busiest GPU's parts add up to its peak, which fits the card
    assert sum(s.bytes for s in b.memory.shares) == pytest.approx(b.memory.per_gpu_bytes)
    assert b.memory.per_gpu_bytes <= b.memory.capacity_bytes
    md = render(r, "md", "en")
    for needle in ("Rollout engine (generates)", "Time per step", "Cost per 1,000 steps", "Host RAM"):
        assert needle in md or needle.lower() in md.lower(), needle
    assert re.findall(r"^## (\d)\. ", md, re.M) == list("12345678")


def test_distill_html_draws_each_phase_memory(reports):
    html = render(reports["distill"], "html", "zh")
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 2 + 1 + 2  # builds, options, phases
    assert "教师模型前向" in html and "哪种方式更便宜" in html


def test_disaggregated_rl_report_orders_both_machines(priced):
    """The rollout engine's machine is in the order: twice the training build's parts, a NIC each for the weight
    sync, both machines' power (recommend.replicate)."""
    req = RecommendRequest(model="qwen2.5-0.5b", task="grpo", placement="disaggregated", as_of=DAY)
    found = answers.recommend(priced, req)
    r = report_of(found, OPTIONS)
    assert r.rl is not None and r.rl.placement == "disaggregated"
    assert found.n_builds == 2 and r.recommended.n_nodes == 2
    assert r.rl.n_gpus == r.recommended.n_gpus
    count = {ln.kind: ln.quantity for ln in r.recommended.bom.lines}
    assert count["gpu"] == r.rl.n_gpus and count["chassis"] == 2 and count["nic"] == 2
    assert r.recommended.facilities.sustained_w == pytest.approx(2 * found.build.power.sustained_w)
    assert found.total_price_usd == found.build.total_price_usd
    assert r.risks[0].key == "rl_second_build" and r.risks[0].params["n"] == r.rl.n_gpus
    assert {x.gpus for x in r.rl.roles} == {"training", "rollout"}
    assert "两台" in render(r, "md", "zh")


def test_large_counts_never_print_an_exponent():
    from hypothesis import given
    from hypothesis import strategies as st

    from sizing.report.procurement_format import Fmt

    zh, en = Fmt("zh", "USD"), Fmt("en", "USD")
    assert (zh.count(5e7), zh.count(6.94e9), en.count(2e8), en.count(6.94e9)) == ("5,000万", "69.4亿", "200M", "6.94B")

    @given(st.floats(min_value=0, max_value=1e18))
    def no_exponent(n):
        assert "e" not in zh.count(n) and "e+" not in en.count(n)

    no_exponent()
