"""Load test: many visitors at once on one server, in real browsers, each on one journey.

    python benchmarks/load_test.py [--journey pages] [--sessions 8] [--epochs 1000]
    python benchmarks/load_test.py --journey lesson --sessions 30 --spread 30
    python benchmarks/load_test.py --journey real --sessions 12 [--query real_hidden_dim=1536&real_k=16]
    python benchmarks/load_test.py --journey stability --sessions 6

Journeys: ``pages`` loads the app, pastes a table, trains on the Train page and reads its
features; ``lesson`` opens the Lesson, trains at step 3 and 20 seeds at step 5 (a class);
``real`` opens the Real model page, extracts the bundled corpus and trains with the page's
defaults (it records the highest place in line it was shown); ``stability`` trains the Stability
page's largest request on the founding table (64 seeds x 4,096 features, 300 epochs: a large run,
which waits in the same line). ``--spread S``: visitors arrive
evenly over S seconds (0: all at once). ``--query Q``: every visitor opens a link with these
settings (``real_hidden_dim=1536&real_k=16``: other real-model defaults).

Serves the app on loopback (never another address), drives the sessions in one headless
Debian chromium (one browser context each, so one Streamlit session each), and prints each
visitor's time per step and in all, the slowest visitor and the server's peak memory: the peak
resident memory of the server process (VmHWM) and the highest sum over its process tree sampled
every 0.2 s. Exits non-zero if any visitor fails or shows an exception.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from app_server import serve_app_process  # noqa: E402
from playwright.async_api import async_playwright, expect  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 600_000  # a page on two shared cores with 30 browsers open can take minutes
QUEUED_TIMEOUT_MS = 1_800_000  # a real-model visitor may wait in line behind a whole class
IN_LINE = re.compile(r"Waiting for a free slot: (\d+)(?:st|nd|rd|th) in line")


def _rss_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*/children"):
            try:
                pids += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
        i += 1
    return pids


class TreeMemory:
    """Samples the resident memory of a process and its descendants every 0.2 s; ``peak_mb`` the highest sum."""

    def __init__(self, pid: int):
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p, "VmRSS:") for p in _tree(self.pid)))

    def stop(self) -> tuple[float, float]:
        """(the server's own VmHWM, the highest process-tree sum), in MiB."""
        hwm = _rss_kb(self.pid, "VmHWM:")
        self._done.set()
        self._thread.join()
        return hwm / 1024, max(self.peak_kb, hwm) / 1024


class Visitor:
    def __init__(self, page, k: int):
        self.page, self.k, self.steps, self.notes = page, k, {}, {}
        self.start = self.last = time.perf_counter()

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        self.steps[step] = now - self.last
        self.last = now

    async def idle(self, timeout_ms: int = TIMEOUT_MS) -> None:
        await self.page.wait_for_selector(IDLE, timeout=timeout_ms)

    async def open(self, address: str, title: str) -> None:
        """Load ``address`` (the first request of this visitor), wait for the page titled ``title``: step "load"."""
        await self.page.goto(address)
        await self.idle()
        await expect(self.page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        self.mark("load")

    async def go_to(self, title: str) -> None:
        await self.page.locator("[data-testid='stSidebarNav'] a", has_text=title).click()
        await expect(self.page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        await self.idle()


async def pages_journey(v: Visitor, url: str, epochs: int, query: str) -> None:
    page, k = v.page, v.k
    await v.open(f"{url}/data?{query}", "Data")
    await page.get_by_text("Paste a whole table as CSV text").click()
    rows = "\n".join(f"visitor{k} token{i},{(i * 7 + k) % 5 / 5:.2f},{(i * 3 + k) % 7 / 7:.2f},{i % 2}"
                     for i in range(10))
    box = page.get_by_role("textbox", name="CSV text")
    await box.fill("token,d0,d1,d2\n" + rows + "\n")
    await box.press("Control+Enter")
    await v.idle()
    await page.get_by_role("button", name="Use pasted table").click()
    await expect(page.get_by_role("heading", name="Table: 10 tokens x 3 dimensions")).to_be_visible(timeout=TIMEOUT_MS)
    v.mark("edit")
    await v.go_to("Train")
    v.mark("open Train")
    epochs_box = page.get_by_role("spinbutton", name="Epochs", exact=True)
    await epochs_box.fill(str(epochs))
    await epochs_box.press("Enter")
    await v.idle()
    await page.get_by_role("button", name="Train", exact=True).click()
    await expect(page.locator("[data-testid='stMetric']").filter(has_text="Explained variance")).to_be_visible(
        timeout=TIMEOUT_MS)
    await v.idle()
    v.mark("train")
    await v.go_to("Features")
    await expect(page.get_by_text("Top tokens:").first).to_be_visible(timeout=TIMEOUT_MS)
    text = await page.locator("[data-testid='stMain']").inner_text()
    if f"visitor{k} token" not in text or any(f"visitor{j} token" in text for j in range(100) if j != k):
        raise AssertionError("the Features page does not show this visitor's own tokens only")
    v.mark("open Features")


async def lesson_journey(v: Visitor, url: str, epochs: int, query: str) -> None:
    page = v.page
    await v.open(f"{url}/?{query}", "Lesson")  # the app opens on the Lesson
    for step, button, done in (("3. Train an SAE", "Train with these settings", "Explained variance"),
                               ("5. Seeds and stability", "Train 20 seeds at once", None)):
        await page.get_by_text(step, exact=True).first.click()
        await expect(page.get_by_role("heading", name=step, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        await v.idle()
        await page.get_by_role("button", name=button).click()
        if done:
            await expect(page.get_by_text(done).first).to_be_visible(timeout=TIMEOUT_MS)
        else:
            await expect(page.get_by_text("Press **Train")).to_have_count(0, timeout=TIMEOUT_MS)
            await expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible(timeout=TIMEOUT_MS)
        await v.idle()
        v.mark(f"step {step[0]}")


async def real_journey(v: Visitor, url: str, epochs: int, query: str) -> None:
    page = v.page
    await v.open(f"{url}/real_model?{query}", "Real model")
    await page.get_by_role("button", name="Extract activations").click()
    await expect(page.get_by_text(re.compile(r"pieces x 384 dims from layer"))).to_be_visible(timeout=QUEUED_TIMEOUT_MS)
    await v.idle(QUEUED_TIMEOUT_MS)
    v.mark("extract")
    await page.get_by_role("button", name="Train", exact=True).click()
    await note_place_until(v, page.locator("[data-testid='stMetric']").filter(has_text="Dead features"), "the training")
    await v.idle(QUEUED_TIMEOUT_MS)
    v.mark("train")
    await expect(page.get_by_text("Top activations (deduplicated)")).to_be_visible(timeout=TIMEOUT_MS)
    v.mark("read a feature")


async def note_place_until(v: Visitor, done, what: str) -> None:
    """Wait (up to QUEUED_TIMEOUT_MS) until the locator ``done`` shows, noting the highest place in line seen."""
    place, deadline = v.notes.get("place", 0), time.monotonic() + QUEUED_TIMEOUT_MS / 1000
    while not await done.count():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish")
        for text in await v.page.locator("[data-testid='stAlert']").all_inner_texts():
            if m := IN_LINE.search(text):
                place = max(place, int(m.group(1)))
        await asyncio.sleep(0.5)
    v.notes["place"] = place


async def stability_journey(v: Visitor, url: str, epochs: int, query: str) -> None:
    """The Stability page's largest request on the founding table (a large run: it waits in the line)."""
    page = v.page
    await v.open(f"{url}/stability?{query or STABILITY_QUERY}", "Stability")
    await page.get_by_role("button", name="Train all seeds").click()
    await note_place_until(v, page.get_by_text(re.compile(r"\d+ seeds trained together")), "the seeds")
    await v.idle(QUEUED_TIMEOUT_MS)
    v.mark("train and compare")


STABILITY_QUERY = "stability_seeds=64&hidden_dim=4096&epochs=300"
JOURNEYS = {"pages": (pages_journey, ["load", "edit", "open Train", "train", "open Features"]),
            "lesson": (lesson_journey, ["load", "step 3", "step 5"]),
            "real": (real_journey, ["load", "extract", "train", "read a feature"]),
            "stability": (stability_journey, ["load", "train and compare"])}
QUEUED = ("real", "stability")  # journeys whose runs are large: they note the place in line


async def visitor(browser, url: str, k: int, journey: str, epochs: int, delay: float, query: str) -> dict:
    await asyncio.sleep(delay)
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    v = Visitor(page, k)
    try:
        await JOURNEYS[journey][0](v, url, epochs, query)
        if await page.locator("[data-testid='stException']").count():
            raise AssertionError("an exception is shown")
        return {"session": k, "ok": True, "steps": v.steps, "notes": v.notes, "total": time.perf_counter() - v.start}
    except Exception as error:  # report every session, then fail
        return {"session": k, "ok": False, "error": f"{type(error).__name__}: {str(error).splitlines()[0]}",
                "steps": v.steps, "notes": v.notes, "total": time.perf_counter() - v.start}
    finally:
        await context.close()


async def run(journey: str, sessions: int, epochs: int, spread: float, query: str) -> int:
    # no file watcher: on this shared machine others edit the tree, and a reload would skew the run
    with serve_app_process("--server.fileWatcherType", "none") as (url, process):
        memory = TreeMemory(process.pid)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            results = await asyncio.gather(*(visitor(browser, url, k, journey, epochs, spread * k / max(sessions, 1),
                                                     query) for k in range(sessions)))
            await browser.close()
        hwm, tree = memory.stop()
    names = JOURNEYS[journey][1]
    extra = " place in line" if journey in QUEUED else ""
    print(f"journey {journey}: {sessions} visitors arriving over {spread:g} s"
          + (f", {epochs} epochs each" if journey == "pages" else "") + (f", link ?{query}" if query else "")
          + f", server on {url}")
    print(f"{'visitor':>7} " + " ".join(f"{n:>14}" for n in names) + f" {'total s':>8}{extra}  status")
    for r in results:
        cells = " ".join(f"{r['steps'].get(n, float('nan')):>14.2f}" for n in names)
        place = f" {r['notes'].get('place', 0):>13}" if extra else ""
        print(f"{r['session']:>7} {cells} {r['total']:>8.2f}{place}  {'ok' if r['ok'] else r['error']}")
    slowest = max(results, key=lambda r: r["total"])
    totals = sorted(r["total"] for r in results)
    print(f"per-visitor time: median {totals[len(totals) // 2]:.1f} s, slowest {slowest['total']:.1f} s "
          f"(visitor {slowest['session']})")
    if journey == "pages":
        nav = max(max(r["steps"].get("open Train", 0), r["steps"].get("open Features", 0)) for r in results)
        print(f"slowest page switch while others trained: {nav:.2f} s")
    if extra:
        print(f"highest place in line seen: {max(r['notes'].get('place', 0) for r in results)}")
    print(f"server peak memory: {hwm:,.0f} MiB (server process VmHWM), {tree:,.0f} MiB (process tree, sampled)")
    failed = [r for r in results if not r["ok"]]
    print(f"{sessions - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journey", choices=list(JOURNEYS), default="pages", help="what each visitor does")
    parser.add_argument("--sessions", type=int, default=8, help="visitors (one browser context each)")
    parser.add_argument("--spread", type=float, default=0.0, help="seconds over which the visitors arrive")
    parser.add_argument("--epochs", type=int, default=1000, help="epochs on the Train page (journey pages)")
    parser.add_argument("--query", default="", help="settings every visitor's link carries, e.g. real_k=16")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.journey, args.sessions, args.epochs, args.spread, args.query)))


if __name__ == "__main__":
    main()
