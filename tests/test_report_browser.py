"""The HTML report opened in headless Chromium: the rendered DOM holds the bill-of-materials tables and the SVG charts,
the page loads nothing from outside and logs no error. Chromium is driven over its DevTools pipe
(--remote-debugging-pipe: JSON messages, NUL-separated, on file descriptors 3 and 4), so the test needs no websocket
library. Skips only where Chromium is missing and SIZING_REQUIRE_BROWSER is unset (.ci/run sets it)."""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from sizing.report import ReportOptions, build_report, render
from sizing.report.procurement_pdf import chromium_command, find_chromium
from sizing.scenarios import recommend
from sizing.specs import RecommendRequest

DAY = "2026-06-01"
TIMEOUT_S = 60.0


def need_chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("SIZING_REQUIRE_BROWSER"):
            pytest.fail("SIZING_REQUIRE_BROWSER is set but Chromium is missing")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return path


class DevTools:
    """One headless Chromium and one page, over the DevTools pipe."""

    def __init__(self, browser: str, profile: Path) -> None:
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def fds() -> None:  # the child reads commands on fd 3 and writes answers on fd 4
            r, w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
            os.dup2(r, 3)
            os.dup2(w, 4)

        cmd = chromium_command(browser, profile, "--remote-debugging-pipe", "--disable-dev-shm-usage", "about:blank")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,  # noqa: PLW1509 (no threads in the test process at this point)
            pass_fds=(3, 4),  # kept open past preexec_fn, which put the pipe's ends there
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer, self.next_id, self.events = b"", 0, []
        self.session: str | None = None

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply.get("result", {})

    def receive(self, deadline: float | None = None) -> dict:
        deadline = deadline or time.monotonic() + TIMEOUT_S
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def open(self, url: str) -> None:
        """A new page at `url`; enabling Runtime and Log replays what the page logged before we attached."""
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log"):
            self.send(f"{domain}.enable")
        deadline = time.monotonic() + TIMEOUT_S
        while self.evaluate("document.readyState") != "complete" or self.evaluate("location.href") != url:
            assert time.monotonic() < deadline, "the page did not finish loading"
            time.sleep(0.1)
        end = time.monotonic() + 0.5  # late console messages and failed loads
        while time.monotonic() < end:
            try:
                self.receive(end)
            except TimeoutError:
                break

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and the browser's own log errors (failed loads)."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif e["method"] == "Runtime.exceptionThrown":
                details = p["exceptionDetails"]
                out.append(
                    f"exception: {details.get('text', '')} {details.get('exception', {}).get('description', '')}"
                )
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}")
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except (EOFError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)


def open_page(html: str, tmp_path: Path) -> DevTools:
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    tools = DevTools(need_chromium(), Path(tempfile.mkdtemp(prefix="profile-", dir=tmp_path)))
    try:
        tools.open(page.as_uri())
    except BaseException:
        tools.close()
        raise
    return tools


@pytest.fixture(scope="module")
def report(priced):
    return build_report(recommend(priced, RecommendRequest(model="7b", as_of=DAY)), ReportOptions(date=DAY))


def test_the_checker_sees_errors(tmp_path: Path):
    """The test below can fail: a page with a console error, a thrown exception and an outside image is caught."""
    bad = (
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom');</script>"
        "<script>throw new Error('thrown')</script><img src='http://example.invalid/a.png'></body></html>"
    )
    tools = open_page(bad, tmp_path)
    try:
        errors = tools.errors()
    finally:
        tools.close()
    text = "\n".join(errors)
    assert "boom" in text and "thrown" in text and "example.invalid" in text, errors


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_report_renders_its_tables_and_charts_without_errors(report, tmp_path: Path, lang):
    tools = open_page(render(report, "html", lang), tmp_path)
    try:
        dom = tools.evaluate(
            """(() => {
              const bom = [...document.querySelectorAll('table.bom')];
              const charts = [...document.querySelectorAll('svg.chart')];
              return {
                bom: bom.length,
                bom_rows: bom.map(t => t.querySelectorAll('tbody tr').length),
                bom_visible: bom.every(t => t.getBoundingClientRect().height > 0),
                charts: charts.length,
                chart_shapes: charts.map(c => c.querySelectorAll('rect, circle, path, line').length),
                chart_sizes: charts.map(c => [c.getBoundingClientRect().width, c.getBoundingClientRect().height]),
                outside: [...document.querySelectorAll('[src], link[href]')].map(e => e.src || e.href),
                scripts: document.scripts.length,
                lang: document.documentElement.lang,
                title: document.title,
              };
            })()"""
        )
        errors = tools.errors()
    finally:
        tools.close()
    n_lines = [len(b.bom.lines) for b in (report.recommended, report.runner_up) if b is not None]
    assert dom["bom"] == len(n_lines) == 2
    assert all(rows > lines for rows, lines in zip(dom["bom_rows"], n_lines, strict=True))  # lines + subtotals + total
    assert dom["bom_visible"]
    assert dom["charts"] == 3  # memory of the recommended and the runner-up, the options chart
    assert all(n >= 3 for n in dom["chart_shapes"]) and all(w > 100 and h > 50 for w, h in dom["chart_sizes"])
    assert dom["outside"] == [] and dom["scripts"] == 0  # self-contained: nothing to fetch, nothing to run
    assert dom["lang"] == ("zh-CN" if lang == "zh" else "en") and dom["title"]
    assert errors == []
