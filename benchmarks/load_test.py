"""Load test: 8 visitors at once on one server, each loading, editing, training and reading features.

    python benchmarks/load_test.py [--sessions 8] [--epochs 1000]

Serves the app on loopback (never another address), drives the sessions in one headless
Debian chromium (one browser context each, so one Streamlit session each), and prints each
session's time per step, the slowest session, how long the slowest page switch took while
others were training (a frozen server would show here), and the server's peak memory.
Exits non-zero if any session fails or shows an exception.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from app_server import serve_app_process  # noqa: E402
from playwright.async_api import async_playwright, expect  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 180_000


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def visitor(browser, url: str, k: int, epochs: int) -> dict:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    steps: dict[str, float] = {}
    start = last = time.perf_counter()

    def mark(step: str) -> None:
        nonlocal last
        now = time.perf_counter()
        steps[step] = now - last
        last = now

    async def idle():
        await page.wait_for_selector(IDLE)

    async def go_to(title: str) -> None:
        await page.locator("[data-testid='stSidebarNav'] a", has_text=title).click()
        await expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        await idle()

    try:
        await page.goto(url)
        await idle()
        await expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        mark("load")
        await page.get_by_text("Paste a whole table as CSV text").click()
        rows = "\n".join(f"visitor{k} token{i},{(i * 7 + k) % 5 / 5:.2f},{(i * 3 + k) % 7 / 7:.2f},{i % 2}"
                         for i in range(10))
        box = page.get_by_role("textbox", name="CSV text")
        await box.fill("token,d0,d1,d2\n" + rows + "\n")
        await box.press("Control+Enter")
        await idle()
        await page.get_by_role("button", name="Use pasted table").click()
        await expect(page.get_by_role("heading", name="Table: 10 tokens x 3 dimensions")).to_be_visible(timeout=TIMEOUT_MS)
        mark("edit")
        await go_to("Train")
        mark("open Train")
        epochs_box = page.get_by_role("spinbutton", name="Epochs", exact=True)
        await epochs_box.fill(str(epochs))
        await epochs_box.press("Enter")
        await idle()
        await page.get_by_role("button", name="Train", exact=True).click()
        await expect(page.locator("[data-testid='stMetric']").filter(has_text="Explained variance")).to_be_visible(
            timeout=TIMEOUT_MS)
        await idle()
        mark("train")
        await go_to("Features")
        await expect(page.get_by_text("Top tokens:").first).to_be_visible(timeout=TIMEOUT_MS)
        text = await page.locator("[data-testid='stMain']").inner_text()
        if f"visitor{k} token" not in text or any(f"visitor{j} token" in text for j in range(100) if j != k):
            raise AssertionError("the Features page does not show this visitor's own tokens only")
        mark("open Features")
        if await page.locator("[data-testid='stException']").count():
            raise AssertionError("an exception is shown")
        return {"session": k, "ok": True, "steps": steps, "total": time.perf_counter() - start}
    except Exception as error:  # report every session, then fail
        return {"session": k, "ok": False, "error": f"{type(error).__name__}: {str(error).splitlines()[0]}",
                "steps": steps, "total": time.perf_counter() - start}
    finally:
        await context.close()


async def run(sessions: int, epochs: int) -> int:
    with serve_app_process() as (url, process):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            results = await asyncio.gather(*(visitor(browser, url, k, epochs) for k in range(sessions)))
            await browser.close()
        peak = peak_rss_mb(process.pid)
    names = ["load", "edit", "open Train", "train", "open Features"]
    print(f"{sessions} concurrent sessions, {epochs} epochs each, server on {url}")
    print(f"{'session':>7} " + " ".join(f"{n:>13}" for n in names) + f" {'total s':>8}  status")
    for r in results:
        cells = " ".join(f"{r['steps'].get(n, float('nan')):>13.2f}" for n in names)
        print(f"{r['session']:>7} {cells} {r['total']:>8.2f}  {'ok' if r['ok'] else r['error']}")
    slowest = max(results, key=lambda r: r["total"])
    nav = max(max(r["steps"].get("open Train", 0), r["steps"].get("open Features", 0)) for r in results)
    print(f"slowest session: {slowest['total']:.2f} s (session {slowest['session']}); "
          f"slowest page switch: {nav:.2f} s; server peak memory: {peak:.0f} MB")
    failed = [r for r in results if not r["ok"]]
    print(f"{sessions - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.sessions, args.epochs)))


if __name__ == "__main__":
    main()
