"""Warm search latency through the running importer, on the shared corpus.

Starts ``python -m streaming_importer`` (daemon mode) on
``../shared/corpus/claude-projects`` with an empty state folder, waits until
it has imported everything, asks one query to warm up (the model is loaded at
start, so this only excludes first-call effects), then asks each of the own
questions about that corpus ``--rounds`` times through the control socket, as
the CLI and the MCP server do (default limit 10: two store queries, the
fusion, and each result's context). Prints p50, p95 and max.

Then the same through the web page's API (``/api/search`` on the importer's
loopback web port, signed in with the one-time link ``web`` prints, the
session credential in the ``X-Session`` header of every call, as the page
sends it), with what the page loads around it (its three files, the status
panel, the sessions list, a page of each hit's transcript);
and the importer's anonymous memory (from its own ``/health``) once caught up,
after the socket rounds and after the page rounds.

    python benchmarks/search_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.imported import importer_running  # noqa: E402
from benchmarks.own import ALL  # noqa: E402
from streaming_importer.surfaces.http.client import query_running  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
TARGET_P95_S = 0.150  # issue 27: with highlights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [q.text for q in ALL if q.corpus == 1]
    with tempfile.TemporaryDirectory(prefix="search-latency-") as tmp:
        state = Path(tmp) / "state"
        started = time.monotonic()
        with importer_running(CORPUS, state) as proc:
            runtime = state / "importer.json"
            deadline = time.monotonic() + 600
            while not runtime.exists() or query_running(runtime, "/status", {})["pending_bytes"]:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the importer did not start or catch up")
                time.sleep(0.5)
            print(f"caught up in {time.monotonic() - started:.0f} s", flush=True)
            query_running(runtime, "/search", {"q": "warm up"})
            memory = [("caught up", anon_mb(runtime))]
            latencies = []
            for _ in range(args.rounds):
                for text in questions:
                    began = time.perf_counter()
                    hits = query_running(runtime, "/search", {"q": text, "limit": "10"})
                    latencies.append(time.perf_counter() - began)
                    assert isinstance(hits, list) and hits, text
            memory.append(("after the socket rounds", anon_mb(runtime)))
            page = Page(query_running(runtime, "/web-login", {}, method="POST")["url"])
            page_latencies = []
            for _ in range(args.rounds):
                for path in ("/", "/app.js", "/style.css", "/api/status", "/api/sessions"):
                    page.get(path)
                for text in questions:
                    began = time.perf_counter()
                    hits = page.get("/api/search", q=text, limit="10")
                    page_latencies.append(time.perf_counter() - began)
                    assert isinstance(hits, list) and hits, text
                    page.get("/api/transcript", path=hits[0]["path"], limit="100")
            memory.append(("after the page rounds", anon_mb(runtime)))
    report("control socket", latencies, len(questions), args.rounds)
    report("web page API", page_latencies, len(questions), args.rounds)
    for when, mb in memory:
        print(f"importer anonymous memory {when}: {mb:.0f} MiB")


def report(via: str, latencies: list[float], questions: int, rounds: int) -> None:
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"{via}: queries: {len(latencies)} ({questions} questions x {rounds})")
    print(
        f"  p50: {statistics.median(latencies) * 1000:.0f} ms  p95: {p95 * 1000:.0f} ms  "
        f"max: {latencies[-1] * 1000:.0f} ms"
    )
    verdict = "met" if p95 <= TARGET_P95_S else "NOT met"
    print(f"  target p95 <= {TARGET_P95_S * 1000:.0f} ms: {verdict}")


def anon_mb(runtime: Path) -> float:
    return float(query_running(runtime, "/health", {})["memory"]["anon_mb"])


class Page:
    """The web page's client: signs in with a one-time link, then sends its credential."""

    def __init__(self, link: str) -> None:
        self.base = link.split("/login")[0]
        with urllib.request.urlopen(link, timeout=10) as signed_in:
            page = signed_in.read().decode()
        marker = '<meta name="si-session" content="'
        if marker not in page:
            raise SystemExit("the login link did not sign in")
        self.credential = page.split(marker, 1)[1].split('"', 1)[0]

    def get(self, route: str, **params: str) -> object:
        url = f"{self.base}{route}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers={"X-Session": self.credential})
        with urllib.request.urlopen(request, timeout=30) as answer:
            data = answer.read()
        return json.loads(data) if route.startswith("/api/") else data


if __name__ == "__main__":
    main()
