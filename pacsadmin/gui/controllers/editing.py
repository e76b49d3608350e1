"""Tag editing and study correction in the window: every read, plan, write, undo, send
and query as a job on the job runner (files on the io lane, the network on the node's
lane); the dialogs (``gui/editing/``) only show and ask.  Files of the local archive are
corrected through it (re-indexed in one transaction), so the browser and the Q/R SCP
show the new values at once.  At start-up an unfinished batch is rolled back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from pacsadmin.core.editing import EditSession
from pacsadmin.core.editing.correction import Correction, CorrectionPlan, UidPolicy
from pacsadmin.core.jobs import JobContext, JobFinished, JobState
from pacsadmin.gui.dialogs.confirm import ask
from pacsadmin.gui.editing.batch_grid import expand as _expand
from pacsadmin.gui.editing.correction_dialog import (
    PATIENT_FIELDS,
    STUDY_FIELDS,
    CorrectionDialog,
)
from pacsadmin.gui.editing.tag_editor import TagEditor

FORM_KEYWORDS = [kw for _, kw, _, _ in PATIENT_FIELDS + STUDY_FIELDS]


def _first_values(path: Path) -> dict[str, str]:
    from pacsadmin.core.editing import load
    from pacsadmin.core.editing.correction import top_value
    from pacsadmin.core.editing.tagpath import TagPath

    df = load(path)
    out = {}
    for kw in FORM_KEYWORDS:
        out[kw] = top_value(df, TagPath.parse(kw).tag) or ""
    out["StudyInstanceUID"] = top_value(df, 0x0020000D) or ""
    return out


class EditingController(QObject):
    changed = Signal()  # files of the archive were rewritten (the browser reloads)

    def __init__(
        self,
        *,
        home: Path,
        archive_root: Path,
        archive: Callable[[], Any],
        bridge: Any,
        audit: Any,
        errors: Any,
        nodes: Any,
        local: Callable[[], Any],
        secrets: Any,
        anonymize: Callable[[list[str]], None],
        parent_widget: QWidget,
        parent: QObject | None = None,
    ) -> None:
        """``archive()``: the open archive (call it on a worker); ``local()``: the local AE;
        ``anonymize(paths)`` opens the Anonymize dialog on files."""
        super().__init__(parent)
        from pacsadmin.core.editing.batch import BatchStore

        self.store = BatchStore(home)
        self.archive_root = Path(archive_root)
        self.archive, self.bridge, self.audit = archive, bridge, audit
        self.errors, self.nodes, self.local, self.secrets = errors, nodes, local, secrets
        self.anonymize = anonymize
        self.parent_widget = parent_widget
        self.editors: list[TagEditor] = []
        self.dialog: CorrectionDialog | None = None
        self.grid: Any = None
        self.confirm: Callable[[str, str], bool] = lambda title, text: ask(
            parent_widget, title, text, warning=True
        )

    # ------------------------------------------------------------------ helpers
    def _reindex(self, rels: list[str]) -> None:
        from pacsadmin.core.editing.archive_link import reindex

        if rels:
            reindex(self.archive(), rels)

    def recover(self) -> None:
        """Roll back an unfinished batch (a crash mid-save), complete an interrupted undo."""
        from pacsadmin.core.editing.batch import recover

        store, reindex = self.store, self._reindex

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.SUCCEEDED and ev.result:
                n = sum(len(r.restored) for r in ev.result)
                self.errors.info(
                    f"An unfinished edit batch was rolled back at start-up: {n} file(s) "
                    "restored from their backups."
                )
                self.changed.emit()

        self.bridge.submit(
            lambda ctx: recover(store, on_restored=reindex),
            name="Recover edit batches",
            lane="io",
            quiet=True,
            on_done=done,
        )

    # ------------------------------------------------------------------ archive rows
    def archive_tool(self, tool: str, nodes: list[Any]) -> None:
        """Edit tags (the first file), Correct study (the selected studies) or Anonymize
        (every file) of archive rows: the files are looked up on the io lane."""
        if tool == "correct":
            uids = [n.uid for n in nodes if n.level == "study"]
            if uids:
                self.open_correction(study_uids=uids)
            return
        archive = self.archive

        def work(ctx: JobContext) -> list[str]:
            a = archive()
            out: list[str] = []
            for n in nodes:
                out += [str(a.path_of(rel)) for _, rel in a.instance_paths(n.level, [n.uid])]
                if tool == "tags" and out:
                    break
            return out

        def done(ev: JobFinished) -> None:
            if ev.state is not JobState.SUCCEEDED or not ev.result:
                self.errors.present(f"No files for the selected rows: {ev.error or 'none found'}")
            elif tool == "tags":
                self.open_tags(ev.result[0])
            else:
                self.anonymize(ev.result)

        self.bridge.submit(work, name="Archive files", lane="io", quiet=True, on_done=done)

    # ------------------------------------------------------------------ the tag editor
    def open_tags(self, path: str) -> TagEditor:
        ed = TagEditor(path, bridge=self.bridge, save=self._save_tags, parent=self.parent_widget)
        ed.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.editors.append(ed)
        ed.destroyed.connect(lambda *_: self.editors.remove(ed) if ed in self.editors else None)
        ed.show()
        return ed

    def _save_tags(
        self, path: str, session: EditSession, on_done: Callable[[str, bool], None]
    ) -> None:
        from pacsadmin.core.editing.archive_link import archive_rel
        from pacsadmin.core.editing.batch import FileEdit, run_batch

        store, audit, root, reindex = self.store, self.audit, self.archive_root, self._reindex
        changes = [c.to_json() for c in session.preview()]
        stamp = session.df.stamp
        p = Path(path)

        def work(ctx: JobContext) -> Any:
            new = session.render()  # re-read and compared with the intended edits
            rel = archive_rel(root, p)

            def produce() -> tuple[bytes, str]:
                from pacsadmin.core.editing.model import read_stamped
                from pacsadmin.core.editing.ops import FileChangedSinceLoad

                _, st = read_stamped(p)  # the file as it is now: still the one loaded?
                if stamp is None or (st.size, st.sha256) != (stamp.size, stamp.sha256):
                    raise FileChangedSinceLoad(f"{p} changed on disk since it was loaded")
                return new, st.sha256

            fe = FileEdit(p, produce, stamp, rel)  # type: ignore[arg-type]  # stamp: set by load()
            result = run_batch(
                store,
                [fe],
                label=f"tag editor: {p.name}",
                on_changed=lambda done: reindex([e.archive_rel for e in done if e.archive_rel]),
            )
            audit.record(
                "edit",
                "stopped" if result.stopped else "ok",
                target=f"tag editor: {p.name}",
                summary=f"batch {result.batch_id}: {len(result.changed)} file(s) changed",
                details={"batch": result.batch_id, "files": [{"path": str(p), "changes": changes}]},
            )
            return result, rel

        def done(ev: JobFinished) -> None:
            if ev.state is not JobState.SUCCEEDED:
                on_done(f"Not saved: {ev.error}", False)
                return
            result, rel = ev.result
            if result.stopped or result.failed:
                why = result.stopped or "; ".join(r for _, r in result.failed)
                on_done(f"Not saved: {why}", False)
                return
            on_done(
                f"Saved (batch {result.batch_id}). Edit > Undo last change restores the "
                "original byte for byte.",
                True,
            )
            if rel:
                self.changed.emit()

        self.bridge.submit(work, name=f"Save tags of {p.name}", lane="io", on_done=done)

    # ------------------------------------------------------------------ many files
    def open_grid(self, inputs: list[str]) -> Any:
        from pacsadmin.gui.editing.batch_grid import BatchGrid

        grid = BatchGrid(inputs, bridge=self.bridge, apply=self._apply_recipe,
                         parent=self.parent_widget)  # fmt: skip
        grid.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.grid = grid
        grid.show()
        return grid

    def _apply_recipe(
        self, paths: list[str], recipe: Any, label: str, on_done: Callable[[str, bool], None]
    ) -> None:
        """Plan (every file validated; one refusal and nothing is written), then one batch."""
        from pacsadmin.core.editing.archive_link import archive_rel
        from pacsadmin.core.editing.ops import apply_plan, plan_edits

        store, audit, root, reindex = self.store, self.audit, self.archive_root, self._reindex

        def work(ctx: JobContext) -> str:
            files = [Path(p) for p in paths]
            rels = {f: r for f in files if (r := archive_rel(root, f))}
            plan = plan_edits(files, recipe, label=label, archive_rels=rels,
                              progress=lambda i, t: ctx.progress(i, t, f"checked {i} of {t}"))  # fmt: skip
            if plan.refused:
                first = "; ".join(f"{Path(p).name}: {why}" for p, why in plan.refused[:3])
                raise ValueError(
                    f"nothing was changed: {len(plan.refused)} file(s) refused ({first})"
                )
            if not plan.changing:
                return "Nothing to change: the files already hold that."
            result = apply_plan(
                store, plan, audit=audit,
                on_changed=lambda done: reindex([e.archive_rel for e in done if e.archive_rel]),
            )  # fmt: skip
            if result.stopped:
                raise ValueError(
                    f"STOPPED: {result.stopped}; {len(result.changed)} file(s) were changed "
                    "(Edit > Undo last change restores them)"
                )
            return (
                f"{label}: {len(result.changed)} file(s) changed (batch {result.batch_id}; "
                "Edit > Undo last change restores them)."
            )

        def done(ev: JobFinished) -> None:
            if ev.state is JobState.SUCCEEDED:
                on_done(ev.result, True)
                self.changed.emit()
            else:
                on_done(str(ev.error), False)

        self.bridge.submit(work, name=f"Edit tags: {label}", lane="io", on_done=done)

    # ------------------------------------------------------------------ undo
    def undo_last(self) -> None:
        from pacsadmin.core.editing.batch import BatchRefused, undo_batch

        if not self.confirm(
            "Undo the last change",
            "Restore the files of the last edit or correction batch from their backups? "
            "(Studies already sent to a PACS stay there: undo cannot un-send.)",
        ):
            return
        store, audit, reindex = self.store, self.audit, self._reindex

        def work(ctx: JobContext) -> Any:
            try:
                res = undo_batch(store, None, on_restored=reindex)
            except BatchRefused as exc:
                return str(exc)
            audit.record(
                "edit-undo",
                "ok" if not res.refused else "partial",
                target=res.batch_id,
                summary=f"undo {res.batch_id}: {len(res.restored)} file(s) restored",
                details={"batch": res.batch_id, "restored": res.restored},
            )
            return res

        def done(ev: JobFinished) -> None:
            if ev.state is not JobState.SUCCEEDED:
                self.errors.present(f"Undo failed: {ev.error}")
            elif isinstance(ev.result, str):
                self.errors.present(ev.result)
            else:
                self.errors.info(
                    f"Batch {ev.result.batch_id} undone: {len(ev.result.restored)} file(s) "
                    "restored."
                )
                self.changed.emit()

        self.bridge.submit(work, name="Undo last change", lane="io", on_done=done)

    # ------------------------------------------------------------------ correction
    def open_correction(
        self, *, files: list[str] | None = None, study_uids: list[str] | None = None
    ) -> None:
        """Start from local files or from studies of the archive."""
        archive = self.archive
        files = list(files or [])
        uids = list(study_uids or [])

        def work(ctx: JobContext) -> tuple[list[str], list[str], dict[str, str]]:
            local_files = _expand(files)  # a folder's files (read on this worker)
            paths = [Path(f) for f in local_files]
            if uids:
                a = archive()
                paths += [a.path_of(rel) for _, rel in a.instance_paths("study", uids)]
            if not paths:
                raise ValueError("no files to correct")
            return local_files, [str(p) for p in paths], _first_values(paths[0])

        def done(ev: JobFinished) -> None:
            if ev.state is not JobState.SUCCEEDED:
                self.errors.present(f"Cannot open the correction: {ev.error}")
                return
            local_files, paths, current = ev.result
            self._show_correction(local_files, uids, paths, current)

        self.bridge.submit(work, name="Read the study to correct", lane="io", quiet=True,
                           on_done=done)  # fmt: skip

    def _show_correction(
        self, files: list[str], uids: list[str], paths: list[str], current: dict[str, str]
    ) -> None:
        n = len(paths)
        what = (
            f"{len(uids)} archive stud{'y' if len(uids) == 1 else 'ies'} ({n} file(s))"
            if uids
            else f"{n} file(s)"
        )
        names = [node.name for node in self.nodes.list()]
        dlg = CorrectionDialog(what, current, nodes=names, parent=self.parent_widget)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dlg
        state: dict[str, Any] = {"plan": None, "batch": "", "paths": paths}
        archive, store, audit, reindex = self.archive, self.store, self.audit, self._reindex

        def preview(c: Correction, all_studies: bool) -> None:
            upgrade = dlg.upgrade.isChecked()

            def work(ctx: JobContext) -> CorrectionPlan:
                from pacsadmin.core.editing.correction import patient_studies, plan_correction

                a = archive() if uids or any(self._in_archive(f) for f in files) else None
                study_uids = list(uids)
                if all_studies and a is not None and current.get("PatientID"):
                    study_uids = list(
                        dict.fromkeys(study_uids + patient_studies(a, current["PatientID"]))
                    )
                return plan_correction(
                    c,
                    upgrade_charset=upgrade,
                    files=[Path(f) for f in files],
                    archive=a,
                    study_uids=study_uids or None,
                    progress=lambda i, t: ctx.progress(i, t, f"{i} of {t} files"),
                )

            def done(ev: JobFinished) -> None:
                if ev.state is not JobState.SUCCEEDED:
                    dlg.show_message(f"No preview: {ev.error}")
                    return
                state["plan"] = ev.result
                dlg.show_plan(ev.result)

            self.bridge.submit(work, name="Correction preview", lane="io", on_done=done)

        def apply() -> None:
            plan: CorrectionPlan | None = state["plan"]
            if plan is None:
                return
            dlg.apply_btn.setEnabled(False)

            def work(ctx: JobContext) -> Any:
                from pacsadmin.core.editing.correction import apply_correction

                a = archive() if any(fp.archive_rel for fp in plan.files) else None
                return apply_correction(
                    plan,
                    store,
                    audit=audit,
                    archive=a,
                    progress=lambda i, t: ctx.progress(i, t, f"{i} of {t} files"),
                )

            def done(ev: JobFinished) -> None:
                if ev.state is not JobState.SUCCEEDED:
                    dlg.show_message(f"Nothing was applied: {ev.error}")
                    return
                r = ev.result
                if r.stopped or r.failed:
                    why = r.stopped or "; ".join(x for _, x in r.failed[:3])
                    state["batch"] = r.batch_id
                    dlg.show_applied(
                        r.batch_id,
                        f"STOPPED: {why}. {len(r.changed)} file(s) were changed; Undo "
                        "restores them.",
                    )
                else:
                    state["batch"] = r.batch_id
                    dlg.show_applied(
                        r.batch_id,
                        f"Applied: {len(r.changed)} file(s) corrected (batch {r.batch_id}). "
                        "Undo restores the originals; Send puts the corrected study on a node.",
                    )
                self.changed.emit()

            self.bridge.submit(work, name="Apply correction", lane="io", on_done=done)

        def undo() -> None:
            from pacsadmin.core.editing.batch import undo_batch

            batch = state["batch"]
            if not batch:
                return

            def work(ctx: JobContext) -> Any:
                res = undo_batch(store, batch, on_restored=reindex)
                audit.record(
                    "edit-undo",
                    "ok" if not res.refused else "partial",
                    target=batch,
                    summary=f"undo {batch}: {len(res.restored)} file(s) restored",
                    details={"batch": batch, "restored": res.restored},
                )
                return res

            def done(ev: JobFinished) -> None:
                if ev.state is not JobState.SUCCEEDED:
                    dlg.show_message(f"Undo failed: {ev.error}")
                    return
                state["batch"], state["plan"] = "", None
                dlg.show_undone(f"Undone: {len(ev.result.restored)} file(s) restored.")
                self.changed.emit()

            self.bridge.submit(work, name="Undo correction", lane="io", on_done=done)

        def send(node_name: str) -> None:
            if not self.confirm(
                "Send the corrected study",
                f"Send the corrected files to {node_name}? Undo cannot un-send: once the "
                "PACS has them, correcting them again means sending again.",
            ):
                return
            self._send_and_check(dlg, node_name, state)

        dlg.on_preview, dlg.on_apply, dlg.on_undo, dlg.on_send = preview, apply, undo, send
        dlg.show()

    def _in_archive(self, path: str) -> bool:
        from pacsadmin.core.editing.archive_link import archive_rel

        return archive_rel(self.archive_root, Path(path)) is not None

    def _send_and_check(self, dlg: CorrectionDialog, node_name: str, state: dict[str, Any]) -> None:
        """C-STORE the corrected files, then C-FIND the study at the node: does it now
        report the new values?"""
        from pacsadmin.core.node_service import passphrase_for

        node = self.nodes.find(node_name)
        if node is None:
            dlg.show_message(f"The node {node_name} is no longer in the directory.")
            return
        plan: CorrectionPlan | None = state["plan"]
        local, secrets = self.local(), self.secrets
        paths = [str(fp.path) for fp in plan.files] if plan else list(state["paths"])
        wanted = dict(plan.correction.targets()) if plan else {}
        new_uids = plan is not None and plan.correction.uid_policy is UidPolicy.NEW

        def work(ctx: JobContext) -> tuple[Any, Any, dict[str, str]]:
            from pacsadmin.core.dimse.find import find
            from pacsadmin.core.dimse.find_query import FindQuery
            from pacsadmin.core.dimse.send import send

            pw = passphrase_for(secrets, node)
            sent = send(local, node, paths, ctx=ctx, passphrase=pw)
            study = _first_values(Path(paths[0]))["StudyInstanceUID"] if paths else ""
            keys = [("StudyInstanceUID", study)]
            back = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "AccessionNumber", "StudyDescription", "StudyDate", "ReferringPhysicianName")  # fmt: skip
            q = FindQuery(model="study", level="STUDY", keys=tuple(keys), return_keys=back)
            found = find(local, node, q, ctx=ctx, passphrase=pw)
            return sent, found, wanted

        def done(ev: JobFinished) -> None:
            if ev.state is not JobState.SUCCEEDED:
                dlg.show_message(f"Send failed: {ev.error}")
                return
            sent, found, want = ev.result
            text = f"Sent {len(sent.stored)} of {len(sent.files)} file(s) to {node_name}"
            if sent.failed:
                text += f" ({len(sent.failed)} failed: {sent.failed[0].meaning})"
            text += ". "
            if not found.ok:
                text += f"The query afterwards failed: {found.sentence}"
            elif not found.matches:
                text += f"{node_name} does not report the study (yet)."
            else:
                m = found.matches[0]
                diffs = [
                    f"{kw} is {m.get(kw)!s} (sent {v})"
                    for kw, v in want.items()
                    if kw in m.values and str(m.get(kw)).strip() != v.strip()
                ]
                if diffs:
                    text += f"{node_name} still reports: " + "; ".join(diffs) + "."
                    if not new_uids:
                        text += (
                            " It may have kept its copy of the instances (same UIDs): "
                            "delete the study there and send again, or correct with new UIDs."
                        )
                else:
                    text += f"{node_name} now reports the corrected values."
            dlg.show_message(text)

        self.bridge.submit(work, name=f"Send correction to {node_name}", node=node.name,
                           on_done=done)  # fmt: skip
