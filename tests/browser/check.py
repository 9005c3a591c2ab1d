#!/usr/bin/env python3
"""The browser check: headless Chromium opens ipconform's HTML reports and
checks that what a person reads actually renders.

    check.py REPORT_HTML COMPARISON_HTML

For each page it drives Debian's Chromium over the DevTools protocol (no
browser-automation framework: one websocket, a handful of commands), waits
for the load event, then evaluates checks inside the page: the elements
exist, are laid out with a visible size, and hold the expected content (the
summary's counts, a diff with word-level changes, the matrix with a cell per
scenario and vendor, the legend). Any request the page makes for something
that is not inside the file itself fails the check, since the reports must
read offline. A full-page screenshot of each is written beside the HTML
(report.png, comparison.png), where CI keeps it with the run's reports.

Only loopback is used: Chromium's DevTools endpoint on 127.0.0.1, and
file:// pages. Exit 0 when every check passes, 1 otherwise, 2 on a broken
environment (no Chromium, it does not start).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client, pinned in tests/sdk/requirements.txt

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium reaches for Google's hosts at every start; this
    # project's tests touch nothing but loopback.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]

# Checks evaluated in the page; each returns [name, ok, detail]. `visible`
# means laid out with a non-zero box, not hidden by CSS.
COMMON_JS = r"""
const visible = (el) => {
  if (!el) return false;
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
};
const check = (name, ok, detail) => [name, !!ok, String(detail ?? '')];
"""

REPORT_JS = COMMON_JS + r"""
(() => {
  const out = [];
  const summary = document.getElementById('summary');
  out.push(check('summary is visible', visible(summary), summary ? summary.innerText.slice(0, 200) : 'no #summary'));
  out.push(check('summary counts the failing case', summary && /fail/i.test(summary.innerText) && /\d/.test(summary.innerText),
                 summary ? summary.innerText.slice(0, 200) : ''));
  const diffs = [...document.querySelectorAll('.diff')];
  const shown = diffs.filter(visible);
  out.push(check('a diff is visible', shown.length > 0, `${diffs.length} .diff, ${shown.length} visible`));
  const words = shown.flatMap(d => [...d.querySelectorAll('ins, del, .word-add, .word-del')]).filter(visible);
  out.push(check('the diff highlights changed words', words.length >= 2, `${words.length} highlighted spans`));
  const colored = words.filter(w => {
    const bg = getComputedStyle(w).backgroundColor;
    return bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent';
  });
  out.push(check('highlighted words have a background', colored.length > 0, `${colored.length} coloured`));
  const text = shown.map(d => d.innerText).join('\n');
  out.push(check('the diff shows expected and actual codes', text.includes('InvalidEniId.NotFound') && text.includes('InvalidVSwitchId.IpNotEnough'),
                 text.slice(0, 300)));
  const cases = document.querySelectorAll('[id^="case-"]');
  out.push(check('every case has an anchor', cases.length >= 2, `${cases.length} cases`));
  return JSON.stringify(out);
})()
"""

COMPARISON_JS = COMMON_JS + r"""
(() => {
  const out = [];
  const matrix = document.getElementById('matrix');
  out.push(check('the matrix is visible', visible(matrix), matrix ? matrix.tagName : 'no #matrix'));
  const cells = matrix ? [...matrix.querySelectorAll('.cell')] : [];
  const shown = cells.filter(visible);
  out.push(check('the matrix has visible cells', shown.length >= 4 * 15, `${cells.length} cells, ${shown.length} visible`));
  const header = matrix ? matrix.innerText : '';
  const vendors = ['alibaba-ecs', 'alibaba-ens', 'tencent-vpc-v2', 'naver-vpc'];
  const missing = vendors.filter(v => !header.includes(v));
  out.push(check('every vendor has a column', missing.length === 0, missing.join(', ')));
  const kinds = new Set(cells.flatMap(c => [...c.classList].filter(k => k.startsWith('outcome-'))));
  out.push(check('cells are coloured by outcome', kinds.size >= 3, [...kinds].join(' ')));
  const links = cells.filter(c => c.querySelector('a[href^="#"]') || (c.tagName === 'A' && c.getAttribute('href')?.startsWith('#')));
  out.push(check('cells link to their detail', links.length >= cells.length / 2, `${links.length} of ${cells.length}`));
  const targets = links.map(c => (c.querySelector('a[href^="#"]') || c).getAttribute('href').slice(1));
  const dangling = targets.filter(id => !document.getElementById(id));
  out.push(check('every link has its detail', dangling.length === 0, dangling.slice(0, 5).join(', ')));
  const legend = document.getElementById('legend');
  out.push(check('the legend is visible', visible(legend), legend ? legend.innerText.slice(0, 120) : 'no #legend'));
  const differs = document.querySelectorAll('.differs');
  out.push(check('rows where vendors differ are marked', differs.length >= 3, `${differs.length} marked`));
  return JSON.stringify(out);
})()
"""


class Browser:
    """One headless Chromium and one page, driven over the DevTools protocol."""

    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="ipconform-chromium-")
        self.process = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if not pages:
            raise RuntimeError("Chromium started without a page")
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.events = []

    def _devtools_port(self):
        marker = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Chromium exited with {self.process.returncode}")
            try:
                with open(marker, encoding="utf-8") as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        raise RuntimeError("Chromium did not open its DevTools port within 30 s")

    def send(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event, timeout=30):
        deadline = time.monotonic() + timeout
        for i, message in enumerate(self.events):
            if message.get("method") == event:
                del self.events[: i + 1]
                return message
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("method") == event:
                return message
            self.events.append(message)
        raise RuntimeError(f"no {event} within {timeout} s")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


def check_page(browser, path, script, screenshot):
    """Loads `path`, runs `script`'s checks, saves a screenshot; returns the
    failed checks."""
    url = "file://" + os.path.abspath(path)
    browser.events.clear()
    browser.send("Page.enable")
    browser.send("Network.enable")
    browser.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    browser.send("Page.navigate", url=url)
    browser.wait_for("Page.loadEventFired")
    results = json.loads(browser.send("Runtime.evaluate", expression=script, returnByValue=True)["result"]["value"])
    requests = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    outside = [u for u in requests if not (u == url or u.startswith("data:") or u.startswith("about:"))]
    results.append(["the page loads nothing from outside itself", not outside, ", ".join(outside[:5])])
    # The top of the page (the summary, the matrix): a whole comparison
    # with every cell's detail would be a picture of megabytes.
    height = browser.send(
        "Runtime.evaluate", expression="document.documentElement.scrollHeight", returnByValue=True
    )["result"]["value"]
    clip = {"x": 0, "y": 0, "width": 1280, "height": min(int(height), 3000), "scale": 1}
    shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    size = os.path.getsize(screenshot)
    results.append(["a screenshot was taken", size > 10_000, f"{screenshot} ({size} bytes)"])
    failed = []
    for name, ok, detail in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}" + (f"  [{detail}]" if detail else ""))
        if not ok:
            failed.append(name)
    return failed


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    report, comparison = argv[1], argv[2]
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("browser check: no chromium on PATH (apt-get install chromium), or set CHROMIUM", file=sys.stderr)
        return 2
    try:
        browser = Browser(chromium)
    except (RuntimeError, OSError) as e:
        print(f"browser check: failed to start {chromium}: {e}", file=sys.stderr)
        return 2
    failed = []
    try:
        for path, script, shot in [
            (report, REPORT_JS, os.path.join(os.path.dirname(report), "report.png")),
            (comparison, COMPARISON_JS, os.path.join(os.path.dirname(comparison), "comparison.png")),
        ]:
            print(f"browser check: {path}")
            failed += [f"{os.path.basename(path)}: {name}" for name in check_page(browser, path, script, shot)]
    finally:
        browser.close()
    if failed:
        print("browser check FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    print("browser check: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
