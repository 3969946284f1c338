"""The web calculator's routes (issue 15): every route with good and bad input, answers equal to the command
line's `--json`, no file-system path from a web user, bodies and uploads capped, errors as the CLI's one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from fastapi.testclient import TestClient  # noqa: E402

from sizing.cli import main  # noqa: E402
from sizing.web.app import MAX_CONFIG_BYTES, create_app  # noqa: E402

CONFIG = Path(__file__).parent / "fixtures" / "configs" / "aya-23-8b" / "config.json"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    main([*args, "--json"])  # every request here has an answer: exit 0
    return json.loads(capsys.readouterr().out)


def test_recommend_json_equals_cli(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    web = client.post("/api/recommend", json={"model": "7b", "users": 8, "gpus_allowed": "rtx-4090,rtx-3090"})
    assert web.status_code == 200
    cli = cli_json(capsys, "recommend", "--model", "7b", "--users", "8", "--gpu", "rtx-4090,rtx-3090")
    assert web.json() == cli
    assert web.json()["options"], "a 7B model has passing builds on 4090s and 3090s"


def test_estimate_json_equals_cli(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"model": "qwen2.5-7b", "gpu": "rtx-4090", "precision": "q4_k_m", "batch": 4}
    web = client.post("/api/estimate", json=body)
    assert web.status_code == 200
    cli = cli_json(
        capsys, "estimate", "--model", "qwen2.5-7b", "--gpu", "rtx-4090", "--precision", "q4_k_m", "--batch", "4"
    )
    assert web.json() == cli


def test_training_and_distill_go_to_their_estimators(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    web = client.post("/api/estimate", json={"model": "qwen2.5-7b", "task": "lora", "gpu": "rtx-4090", "tokens": "20M"})
    assert web.status_code == 200
    cli = cli_json(
        capsys, "estimate", "--model", "qwen2.5-7b", "--task", "lora", "--gpu", "rtx-4090", "--tokens", "20M"
    )
    assert web.json() == cli
    plan = client.post(
        "/api/recommend",
        json={"task": "distill", "teacher": "qwen2.5-7b", "model": "qwen2.5-1.5b", "tokens": "20M"},
    )
    assert plan.status_code == 200 and "phases" in plan.json()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "7b", "users": -1}, "--users (--batch) must be at least 1"),
        ({"model": "nosuchmodel"}, "unknown model 'nosuchmodel'"),
        ({"model": "7b", "gpus_allowed": " , "}, "--gpu is empty"),
        ({"model": "7b", "tokens": "2x", "task": "lora"}, "--tokens '2x' is not a count"),
        ({"modle": "7b"}, "unknown field 'modle'"),
        ({"model": "7b", "objective": "fastest"}, "--objective"),
    ],
)
def test_bad_input_is_422_with_the_cli_line(client: TestClient, body: dict, needle: str) -> None:
    r = client.post("/api/recommend", json=body)
    assert r.status_code == 422
    assert needle in r.json()["error"]
    assert "\n" not in r.json()["error"]


def test_not_json_is_422(client: TestClient) -> None:
    r = client.post("/api/recommend", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]


@pytest.mark.parametrize("name", ["/etc", "../data", "~/models/llama", "./tests", "tests\\fixtures", "nosuch/repo"])
def test_paths_are_refused(client: TestClient, name: str) -> None:
    for route in ("/api/recommend", "/api/estimate"):
        r = client.post(route, json={"model": name})
        assert r.status_code == 422
        assert "reads no files on the server" in r.json()["error"]


def test_a_catalog_hf_repo_is_a_name_not_a_path(client: TestClient) -> None:
    r = client.post("/api/estimate", json={"model": "Qwen/Qwen2.5-7B-Instruct", "gpu": "rtx-4090"})
    assert r.status_code == 200, r.json()


def test_uploaded_config_is_sized(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads(CONFIG.read_text())
    web = client.post("/api/estimate", json={"config_json": config, "gpu": "rtx-4090", "precision": "q4_k_m"})
    assert web.status_code == 200
    cli = cli_json(capsys, "estimate", "--model", str(CONFIG.parent), "--gpu", "rtx-4090", "--precision", "q4_k_m")
    assert web.json()["memory"] == cli["memory"]  # the same reader, the same shape


def test_broken_config_names_config_json_not_a_temp_path(client: TestClient) -> None:
    r = client.post("/api/estimate", json={"config_json": "{not json", "gpu": "rtx-4090"})
    assert r.status_code == 422
    assert r.json()["error"].startswith("config.json is not valid JSON")
    assert "/tmp" not in r.json()["error"]


def test_oversize_bodies_and_uploads_are_refused(client: TestClient) -> None:
    big = b"x" * (MAX_CONFIG_BYTES + (128 << 10))
    r = client.post("/api/recommend", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = client.post("/", files={"config": ("config.json", big, "application/json")})
    assert r.status_code == 413


def test_catalog_routes(client: TestClient) -> None:
    models = client.get("/api/models", params={"q": "qwen2.5-7b"}).json()
    assert any(m["id"] == "qwen2.5-7b" for m in models)
    assert all({"n_params", "n_active_params", "max_context_tokens"} <= set(m) for m in models)
    gpus = client.get("/api/gpus", params={"q": "4090"}).json()
    assert {g["id"] for g in gpus} >= {"rtx-4090"}
    assert all(g["memory_bytes"] > 0 for g in gpus)


def test_page_without_and_with_a_request(client: TestClient) -> None:
    empty = client.get("/")
    assert empty.status_code == 200 and '<form id="request"' in empty.text and 'id="builds"' not in empty.text
    page = client.get("/", params={"model": "7b", "users": "4", "engine": "", "lang": "en"})
    assert page.status_code == 200
    for piece in ('id="builds"', 'id="memory-chart"', "<svg", 'class="bom"', 'id="launch"', "/report.html?"):
        assert piece in page.text, piece
    assert 'value="7b"' in page.text  # the form keeps the request the URL carries


def test_page_in_chinese(client: TestClient) -> None:
    page = client.get("/", params={"model": "7b", "lang": "zh"})
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text and "配置方案排名" in page.text


def test_page_error_is_escaped_and_one_line(client: TestClient) -> None:
    page = client.get("/", params={"model": "<script>alert(1)</script>"})
    assert page.status_code == 422
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text


def test_fragment_is_the_answer_block(client: TestClient) -> None:
    r = client.get("/fragment", params={"model": "7b"})
    assert r.status_code == 200 and 'id="builds"' in r.text and "<html" not in r.text
    bad = client.get("/fragment", params={"model": "7b", "users": "0"})
    assert bad.status_code == 422 and 'class="error"' in bad.text


def test_upload_form(client: TestClient) -> None:
    r = client.post(
        "/", files={"config": ("config.json", CONFIG.read_bytes(), "application/json")}, data={"users": "2"}
    )
    assert r.status_code == 200 and 'id="builds"' in r.text and "uploaded config.json" in r.text
    none = client.post("/", data={"users": "2"})
    assert none.status_code == 422 and "no config.json was uploaded" in none.text


def test_report_route_renders_through_the_report_module(client: TestClient) -> None:
    md = client.get("/report.md", params={"model": "7b"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Procurement report")
    html = client.get("/report.html", params={"model": "7b", "lang": "zh"})
    assert html.status_code == 200 and "采购" in html.text
    data = client.get("/report.json", params={"model": "7b"}).json()
    assert data["recommended"]["bom"]["lines"]
    assert client.get("/report.doc", params={"model": "7b"}).status_code == 422
    xlsx = client.get("/report.xlsx", params={"model": "7b"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"  # a zip: the workbook


def test_openapi_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/recommend", "/api/estimate", "/api/models", "/api/gpus", "/report.{fmt}"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_slow_answers_time_out() -> None:
    slow = TestClient(create_app(timeout_s=0.001))
    r = slow.post("/api/recommend", json={"model": "deepseek-r1", "precision": "fp8"})
    assert r.status_code == 504 and "narrow the request" in r.json()["error"]


def test_startup_line_says_who_can_reach_it() -> None:
    from sizing.cli.serve_cmd import reach

    assert "this machine only" in reach("127.0.0.1", 8000)
    assert "every machine" in reach("0.0.0.0", 8080)


def test_serve_refuses_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exc:
            main(["serve", "--port", str(port)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot listen on 127.0.0.1:") and err.count("\n") == 1
