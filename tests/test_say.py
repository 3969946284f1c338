"""The terminal in the reader's language (sizing/report/say.py): one message catalog per language, every rule's
finding said from its key, `--lang zh` / SIZING_LANG / a zh locale, and no English sentence left in a Chinese
answer beyond ids, part names, units and commands."""

from __future__ import annotations

import json
import re
import string

import pytest
from cli_run import run_main
from english_runs import english_runs, kept_names

from sizing import answers
from sizing.report import estimate_text, recommendation_text, resay, say, term_lang
from sizing.report.procurement_format import messages
from sizing.report.say import finding_said, finding_text
from sizing.specs import Finding, RecommendRequest, Request, SizingError, said

TERMINAL = ("term.", "finding.", "text.", "word.")
CJK = re.compile(r"[\u4e00-\u9fff]")


def fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_terminal_key_is_in_both_catalogs_with_the_same_fields():
    en, zh = messages("en"), messages("zh")
    keys = {k for k in en if k.startswith(TERMINAL)} | {k for k in zh if k.startswith(TERMINAL)}
    assert len(keys) > 250
    for key in sorted(keys):
        assert key in en and key in zh, key
        assert fields(en[key]) == fields(zh[key]), key


def test_chinese_templates_are_written_in_chinese():
    """Every zh terminal template has Chinese in it, but for punctuation around a field and the column heads that
    Chinese writes as English (GPU)."""
    zh = messages("zh")
    plain = {"finding.sep", "finding.engine_support.note", "finding.engine_support.stack", "finding.chassis_fit"}
    plain |= {"term.col.gpus", "term.host.pcie"}
    assert [k for k in zh if k.startswith(TERMINAL) and not CJK.search(zh[k])] == sorted(plain, key=list(zh).index)


@pytest.fixture(scope="module")
def found(catalog):
    """A broad set of answers on the catalog: inference, training, CPU-only, distillation, RL, infeasible."""
    r = {
        "7b": RecommendRequest(model="7b"),
        "70b-tower": RecommendRequest(model="70b", form_factor="tower"),
        "405b-2": RecommendRequest(model="405b", max_gpus=2),
        "lora": RecommendRequest(model="7b", task="lora", tokens="100M", deadline_s=3600),
        "cpu": RecommendRequest(model="7b", max_gpus=0),
        "budget": RecommendRequest(model="70b", budget=3000),
        "latency": RecommendRequest(model="7b", max_ttft_s=0.05, min_user_tokens_per_s=200),
        "grpo": RecommendRequest(model="7b", task="grpo"),
        "distill": RecommendRequest(model="8b", task="distill", teacher="70b", tokens="200M"),
    }
    return {name: answers.recommend(catalog, req) for name, req in r.items()}


def all_findings(found) -> list[Finding]:
    out = []
    for r in found.values():
        for o in getattr(r, "options", ()):
            out += o.findings
        for x in getattr(r, "rejected", ()):
            out += x.findings
        out += [f for m in getattr(r, "near_misses", ()) for f in m.findings]
    return out


def test_every_rule_finding_says_its_english_message_from_its_key(found):
    """The English of each key (en.json) is the message the rule wrote: the JSON and the English terminal agree
    with the catalog, and the Chinese says the same sentence."""
    fs = all_findings(found)
    assert len(fs) > 1000
    keyless = {f.rule for f in fs if f.key is None}
    assert keyless <= {"catalog_gap"}, keyless  # catalog gaps name the missing CSV row, said in English
    for f in fs:
        if f.key is not None:
            assert finding_said("en", f) == f.message, f.key
            assert CJK.search(finding_text("zh", f)), f.key


def test_finding_without_a_key_keeps_its_english_message():
    f = Finding(rule="x", ok=False, message="a sentence no template knows")
    assert finding_text("zh", f) == "a sentence no template knows"
    keyed = Finding(rule="x", ok=False, message="costs $5, budget $4", **said("finding.budget", total="$5", limit="$4"))
    assert finding_text("en", keyed) == "costs $5, budget $4"
    assert finding_text("zh", keyed) == "总价 $5，预算 $4"


def test_resay_reads_a_library_sentence_and_says_it_in_chinese():
    assert resay("zh", "a smaller quantization: --precision awq-int4") == "更低位宽的量化：--precision awq-int4"
    assert resay("zh", "best of 12 passing builds by cost") == "12 个通过的配置中按价格排名第一"
    assert resay("en", "best of 12 passing builds by cost") == "best of 12 passing builds by cost"
    assert resay("zh", "nothing like any template") == "nothing like any template"


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),  # POSIX: LC_ALL wins
        ({"LC_MESSAGES": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"SIZING_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"SIZING_LANG": "zh-CN"}, "zh"),
    ],
)
def test_language_from_the_environment(environ, lang):
    assert term_lang(None, environ) == lang


def test_explicit_lang_wins_and_an_unknown_one_is_refused():
    assert term_lang("zh", {"LANG": "en_US.UTF-8"}) == "zh"
    assert term_lang("EN", {"SIZING_LANG": "zh"}) == "en"
    with pytest.raises(SizingError, match="unknown --lang 'fr'; use en or zh"):
        term_lang("fr", {})
    with pytest.raises(SizingError, match="unknown --lang 'de'"):
        term_lang(None, {"SIZING_LANG": "de"})


def test_chinese_estimate_of_7b_on_a_4090(catalog):
    e = answers.run(catalog, Request(model="7b", gpu="rtx-4090"))
    text = estimate_text(e, "zh")
    assert "每卡显存：" in text and "-> 放得下" in text
    assert "首字延迟 (TTFT)" in text and "受访存带宽限制" in text and "运行命令：vllm serve" in text
    assert estimate_text(e) == estimate_text(e, "en") and "Memory per GPU:" in estimate_text(e)
    assert english_runs(text, kept_names(catalog)) == []


def test_chinese_training_estimate(catalog):
    e = answers.run(catalog, Request(model="7b", task="lora", gpu="rtx-4090", tokens="100M"))
    text = estimate_text(e, "zh")
    assert "训练框架" in text and "梯度" in text and "优化器状态" in text and "GPU 小时" in text
    assert english_runs(text, kept_names(catalog)) == []


def test_chinese_recommendation_of_7b(found, catalog):
    text = recommendation_text(found["7b"], lang="zh", bom=True)
    assert "按价格排序（第 1 名为推荐配置）" in text and "推荐：" in text and "物料清单（推荐配置）" in text
    assert "显卡" in text and "电源" in text and "墙插功耗" in text and "已排除" in text
    assert english_runs(text, kept_names(catalog)) == []


def test_chinese_infeasible_request_gives_its_ways_out(found, catalog):
    r = found["405b-2"]
    assert not r.options
    text = recommendation_text(r, lang="zh")
    assert "没有配置能通过全部规则。" in text and "出路：更低位宽的量化：--precision" in text
    assert english_runs(text, kept_names(catalog)) == []


@pytest.mark.parametrize("name", ["70b-tower", "lora", "cpu", "budget", "latency", "grpo", "distill"])
def test_no_english_sentence_in_a_chinese_answer(found, catalog, name):
    text = answers.recommendation_text(found[name], bom=True, lang="zh")
    assert CJK.search(text)
    assert english_runs(text, kept_names(catalog)) == [], name


@pytest.mark.parametrize(
    "request_",
    [
        Request(model="70b", gpu="rtx-4090", n_gpus=2),
        Request(model="70b", gpu="rtx-4090", cpu="epyc-9655", offload="layers"),
        Request(model="7b", n_gpus=0, cpu="epyc-9655"),
        Request(model="7b", gpu="h100", n_gpus=8, task="full-finetune", tokens="1B", deadline_s=7200),
    ],
    ids=["70b-2x4090", "hybrid", "cpu-only", "full-finetune-deadline"],
)
def test_no_english_sentence_in_a_chinese_estimate(catalog, request_):
    text = estimate_text(answers.run(catalog, request_), "zh")
    assert english_runs(text, kept_names(catalog)) == []


def test_the_check_finds_english():
    """The detector itself: a plain English sentence is caught, ids, names, units and flags are not."""
    names = ["NVIDIA GeForce RTX 4090"]
    assert english_runs("推荐：use more or larger GPUs", names) == ["use more or larger GPUs"]
    assert english_runs("1 x NVIDIA GeForce RTX 4090 装于 tower-enthoo-pro2-x670e，24.0 GiB，53.5 tok/s", names) == []
    assert english_runs("请改用 --precision awq-int4 或 --kv-precision fp8", names) == []


def test_cli_lang_zh(capsys):
    code, out, _ = run_main(["estimate", "--model", "7b", "--gpu", "rtx-4090", "--lang", "zh"], capsys)
    assert code == 0 and "每卡显存" in out and "Memory per GPU" not in out


def test_cli_chinese_locale(capsys, monkeypatch):
    monkeypatch.delenv("SIZING_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    code, out, _ = run_main(["estimate", "--model", "7b", "--gpu", "rtx-4090"], capsys)
    assert code == 0 and "每卡显存" in out
    code, out, _ = run_main(["estimate", "--model", "7b", "--gpu", "rtx-4090", "--lang", "en"], capsys)
    assert code == 0 and "Memory per GPU" in out


def test_cli_bad_lang_is_one_line_exit_2(capsys):
    for command in (["estimate", "--model", "7b"], ["recommend", "--model", "7b"]):
        code, out, err = run_main([*command, "--lang", "fr"], capsys)
        assert code == 2 and out == ""
        assert err == "error: unknown --lang 'fr'; use en or zh (or set SIZING_LANG)\n"


def test_cli_json_stays_english(capsys):
    args = ["estimate", "--model", "7b", "--gpu", "rtx-4090", "--max-ttft-s", "1", "--json"]
    _, en, _ = run_main(args, capsys)
    _, zh, _ = run_main([*args, "--lang", "zh"], capsys)
    assert en == zh
    target = json.loads(zh)["targets"][0]
    assert target["message_key"].startswith("finding.first_token") and target["message"].startswith("first token")


def test_cli_recommend_in_chinese_with_no_build(capsys):
    code, out, err = run_main(["recommend", "--model", "405b", "--max-gpus", "2", "--lang", "zh"], capsys)
    assert code == 3 and "没有配置能通过全部规则。" in out
    assert err.startswith("error: 没有配置能通过全部规则；出路：") and err.count("\n") == 1


def test_say_fills_named_fields():
    assert say("en", "term.run", command="vllm serve x") == "Run it: vllm serve x"
    assert say("zh", "term.run", command="vllm serve x") == "运行命令：vllm serve x"


def test_cli_recommend_report_follows_the_language(priced_dir, tmp_path, capsys):
    out = tmp_path / "build.md"
    args = ["recommend", "--data", str(priced_dir), "--model", "7b", "--as-of", "2026-06-01", "--report", str(out)]
    code, stdout, err = run_main([*args, "--lang", "zh"], capsys)
    assert code == 0 and "推荐：" in stdout and err == f"wrote {out} (md, zh)\n"
    assert "物料清单" in out.read_text(encoding="utf-8")


def test_every_gpu_stack_note_is_said_in_chinese(catalog):
    """A GPU outside CUDA carries its stack note (gpus.csv stack_note) into a build's reasons and its refusals: each
    note has its Chinese sentence (en.json text.stack_note.*), so a zh reader never gets an English one."""
    notes = {g.stack_note for g in catalog.gpus.values() if g.stack_note}
    assert notes
    for note in notes:
        assert english_runs(resay("zh", note), kept_names(catalog)) == [], note


def test_chinese_ways_out_name_a_blocking_cpu(catalog):
    """The --cpu way out (sizing/recommend/relax.py other_cpu) is said in Chinese, both of its sentences."""
    r = answers.recommend(
        catalog,
        RecommendRequest(
            model="qwen2.5-72b", precision="bf16", gpus_allowed=("rtx-4090",), cpus_allowed=("xeon-silver-4314",)
        ),
    )
    assert not r.options
    text = recommendation_text(r, lang="zh")
    assert (
        "出路：去掉 --cpu xeon-silver-4314：chassis.csv 中没有 lga4189 插槽的机箱能让 8 x rtx-4090 通过全部规则" in text
    )
    assert english_runs(text, kept_names(catalog)) == []
    same = resay("zh", "another CPU: without --cpu xeon-silver-4310, 2 x rtx-4090 on xeon-gold-6338 ($9,000) passes")
    assert same == "换一种 CPU：去掉 --cpu xeon-silver-4310 后，2 x rtx-4090 配 xeon-gold-6338（$9,000）可通过"
