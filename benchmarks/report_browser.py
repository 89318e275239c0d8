"""Every experiment's report opened in a real browser (headless Chromium): every figure decoded and
shown, every table there, and a screenshot of the top of each page to look at.

    python benchmarks/report_browser.py                  # smoke runs of every experiment, then the check
    python benchmarks/report_browser.py runs/x/RUN ...   # these run folders instead

Needs Debian's ``chromium`` (``apt-get install chromium``). For each report the page is loaded
with a small script added to a copy of it that counts, once the page has loaded, the images the
browser could not decode and the tables it laid out; the figures the run's ``manifest.json``
lists must all be there. Smoke runs go to ``runs/benchmarks/report-browser/NAME`` (kept: a rerun
checks them again without running). Writes ``benchmarks/results/report_browser.json`` and
``benchmarks/results/report-screenshots/NAME.png`` (the first 1,200 x 2,000 pixels of each page).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, git_revision, write_result  # noqa: E402

COUNT = ("<script>addEventListener('load', () => { const im = [...document.images];"
         " document.title = 'CHECK ' + im.filter(i => !i.complete || i.naturalWidth === 0).length + ' '"
         " + im.length + ' ' + document.querySelectorAll('table').length; });</script>")
SHOTS = RESULTS / "report-screenshots"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("no Chromium found: `apt-get install chromium` (Debian) first")


def browse(browser: str, report: Path, shot: Path) -> dict:
    """Load ``report`` with the counting script; (broken images, images, tables) and a screenshot."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"]
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(report.read_text().replace("</head>", COUNT + "</head>", 1))
        dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
    found = re.search(r"<title>CHECK (\d+) (\d+) (\d+)</title>", dom)
    if found is None:
        return {"loaded": False}
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([browser, *flags, "--window-size=1200,2000", f"--screenshot={shot}", report.resolve().as_uri()],
                   capture_output=True, timeout=120)
    broken, images, tables = map(int, found.groups())
    return {"loaded": True, "images": images, "broken_images": broken, "tables": tables}


def smoke_runs() -> list[Path]:
    from nnlab.experiments import load_all, run_experiment

    folders = []
    for name, exp in sorted(load_all().items()):
        if not exp.run.__module__.startswith("nnlab."):
            continue
        out = Path("runs/benchmarks/report-browser") / name
        metrics = out / "metrics.json"
        if not (metrics.is_file() and json.loads(metrics.read_text()).get("status") == "ok"):
            print(f"smoke run of {name} ...", flush=True)
            run_experiment(name, smoke=True, out=out, force=True)
        folders.append(out)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", type=Path, help="run folders (default: a smoke run of every experiment)")
    args = parser.parse_args()
    browser = chromium()
    version = subprocess.run([browser, "--version"], capture_output=True, text=True).stdout.strip()
    results, bad = {}, []
    for run in args.runs or smoke_runs():
        manifest = json.loads((run / "manifest.json").read_text())
        figures = sum(1 for item in manifest if item.get("kind") == "figure")
        tables = sum(1 for item in manifest if item.get("kind") == "table")
        name = run.name
        seen = browse(browser, run / "report.html", SHOTS / f"{name}.png")
        seen.update({"run": str(run), "figures_in_manifest": figures, "tables_in_manifest": tables})
        ok = seen["loaded"] and seen["broken_images"] == 0 and seen["images"] >= figures and seen["tables"] >= tables
        seen["ok"] = ok
        results[name] = seen
        if not ok:
            bad.append(name)
        print(f"{name:20s} {'ok ' if ok else 'BAD'}  images {seen.get('images')} (broken {seen.get('broken_images')},"
              f" figures listed {figures})  tables {seen.get('tables')} (listed {tables})")
    path = write_result("report_browser", {"browser": version, "git": git_revision(), "reports": results})
    print(f"-> {path}; screenshots in {SHOTS}")
    if bad:
        raise SystemExit(f"reports with missing or broken content: {', '.join(bad)}")


if __name__ == "__main__":
    main()
