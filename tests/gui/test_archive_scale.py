"""The archive browser keeps the GUI responsive at 10,000 and 100,000 studies (issue 8).

A 5 ms QTimer heartbeat on the GUI thread records its longest gap while the window opens
over a big archive and the archive tab is shown, while a search is typed key by key,
while a column is sorted and the list is scrolled to its end, and while a study is
expanded.  Each phase waits for its answer (the rows are checked), and each must keep
the longest gap under 50 ms.  Before the browser queried SQLite page by page, opening
over 10,000 studies stalled the GUI thread for 1.2 s and each keystroke for 0.35 s.

On a loaded two-core machine the OS alone sometimes deschedules the whole process for
tens of milliseconds, so (as the Echo-all test does) the scenario may run up to three
times in the same window (a later run's "open" is a reload with the tab raised) and
passes when one run stays under 50 ms in every phase.  A browser that does
O(N) work on the GUI thread fails every run: at 100,000 studies that is seconds.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from pacsadmin.gui.models.archive_model import COL_NAME, COL_SIZE
from tests.bigarchive import build_index

MAX_GAP_MS = 50.0
ATTEMPTS = 3
WAIT = 60_000


@pytest.fixture(scope="session")
def big_archives(tmp_path_factory):
    """n -> an archive of n one-image studies, built once per session."""
    made: dict[int, object] = {}

    def get(n: int):
        if n not in made:
            made[n] = build_index(tmp_path_factory.mktemp(f"archive-{n}") / "archive", n)
        return made[n]

    return get


def _open_app(qtbot, archive):
    from pacsadmin.core.paths import AppPaths
    from pacsadmin.gui.app import PacsAdminApp

    paths = AppPaths.resolve().ensure()
    if not paths.archive_dir.exists():
        paths.archive_dir.symlink_to(archive, target_is_directory=True)
    app = PacsAdminApp(paths)
    app.errors.dialogs_enabled = False
    qtbot.addWidget(app.window)
    app.window.show()
    return app


def _close_app(app):
    app.window.close()
    assert app.shutdown(), "jobs did not stop"


def _settled(app) -> bool:
    m = app.archive_model
    return (
        app.archive.loads > 0
        and not app.archive.loading()
        and not m.root.fetching
        and not any(n.fetching for n in m.studies()[:50])
    )


def _phase(qtbot, heartbeat, gaps: dict[str, float], name: str, action, done) -> None:
    heartbeat.max_gap_ms = 0.0
    heartbeat.start()
    action()
    qtbot.waitUntil(done, timeout=WAIT)
    qtbot.wait(60)  # the repaint after the answer is part of the phase
    heartbeat.stop()
    gaps[name] = round(heartbeat.max_gap_ms, 1)


def _scenario(qtbot, heartbeat, app, n: int) -> dict[str, float]:
    browser, model, ctrl = app.archive_browser, app.archive_model, app.archive
    gaps: dict[str, float] = {}
    dock = app.window.docks["archive"]

    # open: the window was just shown (a later run: reload); the first page arrives, and
    # the tab is raised
    def show_tab() -> None:
        if ctrl.loads:
            app.window.docks["nodes"].raise_()
            ctrl.refresh()
        dock.raise_()

    loads = ctrl.loads
    _phase(qtbot, heartbeat, gaps, "open", show_tab, lambda: ctrl.loads > loads and _settled(app))
    assert model.totals.studies == n
    # a page or a few (a reload keeps what was loaded), never page after page on its own
    qtbot.wait(300)
    assert _settled(app) and 0 < len(model.studies()) <= 4 * ctrl.PAGE, len(model.studies())
    assert f"{n} studies" in browser.summary.text()

    # keystrokes: "smith" typed at 80 ms a key (one query after the pause), then more words
    def type_search() -> None:
        for ch in "smith":
            qtbot.keyClick(browser.search, ch)
            qtbot.wait(80)
        for ch in " anna":
            qtbot.keyClick(browser.search, ch)
            qtbot.wait(30)

    _phase(qtbot, heartbeat, gaps, "search", type_search,
           lambda: "Matching 'smith anna'" in browser.summary.text() and _settled(app))  # fmt: skip
    found = model.studies()
    bad = [(n.name, browser.search_text()) for n in found if not n.name.startswith("SMITH, ANNA")]
    assert found and not bad, bad[:3]
    assert model.totals.studies < n

    # sort by size (largest first) over the whole archive, then scroll to the end: a page more
    browser.search.clear()
    qtbot.waitUntil(lambda: _settled(app) and browser.search_text() == "", timeout=WAIT)
    qtbot.waitUntil(lambda: model.totals.studies == n, timeout=WAIT)
    loads = ctrl.loads

    def sort() -> None:
        browser.tree.header().setSortIndicator(COL_SIZE, Qt.SortOrder.DescendingOrder)

    _phase(qtbot, heartbeat, gaps, "sort", sort, lambda: ctrl.loads > loads and _settled(app))
    sizes = [s.size for s in model.studies()]
    assert sizes == sorted(sizes, reverse=True)
    loaded = len(model.studies())

    def scroll() -> None:
        browser.tree.scrollToBottom()

    _phase(qtbot, heartbeat, gaps, "scroll", scroll,
           lambda: len(model.studies()) > loaded and _settled(app))  # fmt: skip
    sizes = [s.size for s in model.studies()]
    assert sizes == sorted(sizes, reverse=True)

    # expand a study: its series come from a background query
    study = model.studies()[0]

    def expand() -> None:
        browser.tree.expand(model.index_of(study))

    _phase(qtbot, heartbeat, gaps, "expand", expand, lambda: study.fetched)
    assert [s.level for s in study.children] == ["series"]
    assert browser.tree.isExpanded(model.index_of(study))
    return gaps


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_archive_browser_keeps_the_gui_responsive(qtbot, heartbeat, big_archives, n):
    archive = big_archives(n)
    runs: list[dict[str, float]] = []
    app = _open_app(qtbot, archive)  # one app: the attempts run again in it
    try:
        for attempt in range(1, ATTEMPTS + 1):
            browser = app.archive_browser
            if attempt > 1:  # back to the start: no search, sorted by patient
                browser.search.clear()
                browser.tree.header().setSortIndicator(COL_NAME, Qt.SortOrder.AscendingOrder)
                qtbot.wait(300)
                qtbot.waitUntil(lambda: _settled(app) and app.archive_model.totals.studies == n,
                                timeout=WAIT)  # fmt: skip
            gaps = _scenario(qtbot, heartbeat, app, n)
            runs.append(gaps)
            print(f"{n} studies, run {attempt}: longest GUI-thread gap (ms) {gaps}")
            if max(gaps.values()) < MAX_GAP_MS:
                break
    finally:
        _close_app(app)
    best = min(runs, key=lambda g: max(g.values()))
    assert max(best.values()) < MAX_GAP_MS, f"GUI thread stalled in every run: {runs}"
