"""Audit your own file from the page: the upload, kept in a private temporary folder, audited by
``bias-audit audit`` itself, then removed.

The audit runs as the command line runs it (``python -m experiments.cli audit``, in a child
process), so the page gets exactly its checks, messages and files, and a file that is too
large or too slow to audit can be stopped without touching the server. The upload's name is
never used as a path: it is stored as ``upload.csv`` or ``upload.parquet`` in a folder of its
own. Uploads not audited within :data:`UPLOAD_LIFETIME` seconds are removed, and so is
everything at shutdown.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit.report import percent

#: Largest file the page accepts.
MAX_UPLOAD_BYTES = 50 * 2**20
#: Seconds an upload waits to be audited before it is removed.
UPLOAD_LIFETIME = 15 * 60
#: Seconds an audit may take before it is stopped.
AUDIT_TIMEOUT = 300
#: Suffixes accepted, and the name the upload is stored under.
STORED_NAMES = {".csv": "upload.csv", ".parquet": "upload.parquet", ".pq": "upload.parquet"}
#: Rates shown per group on the page (the report holds every metric).
SHOWN_METRICS = ("selection_rate", "fpr", "fnr", "precision")
METRIC_TITLES = {"selection_rate": "selection rate", "fpr": "false positive rate",
                 "fnr": "false negative rate", "precision": "precision"}


class UploadError(ValueError):
    """An upload or an audit request the page must refuse; the message says why."""


@dataclass
class Upload:
    """One uploaded file in its own temporary folder."""

    id: str
    owner: str
    folder: Path
    file: Path
    columns: list[str]
    created: float = field(default_factory=time.time)
    #: The audit's outputs as a zip, once audited (the folder is gone by then).
    result_zip: bytes | None = None


class UploadStore:
    """Uploads by id, each visible only to the session that sent it."""

    def __init__(self) -> None:
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()
        self._audit_lock = threading.Semaphore(1)  # one audit at a time

    def kind_of(self, filename: str) -> str:
        """The stored name for an uploaded file's name, or refuse its type."""
        suffix = Path(filename.replace("\\", "/")).suffix.lower()
        if suffix not in STORED_NAMES:
            raise UploadError(f"give a .csv or .parquet file (got {suffix or 'no suffix'!r})")
        return STORED_NAMES[suffix]

    def new_folder(self) -> Path:
        """A private temporary folder for one upload."""
        return Path(tempfile.mkdtemp(prefix="bias-audit-upload-"))

    def add(self, owner: str, folder: Path, stored: str) -> Upload:
        """Register a file written into ``folder``, after checking that it is what it claims.

        Raises
        ------
        UploadError
            When the content is not a readable CSV (UTF-8 text) or Parquet file; the folder
            is removed.
        """
        self.expire()
        file = folder / stored
        try:
            columns = _columns(file)
        except UploadError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        upload = Upload(secrets.token_urlsafe(18), owner, folder, file, columns)
        with self._lock:
            self._uploads[upload.id] = upload
        return upload

    def get(self, upload_id: str, owner: str) -> Upload | None:
        """An upload of this session."""
        upload = self._uploads.get(upload_id)
        return upload if upload is not None and upload.owner == owner else None

    def find(self, upload_id: str) -> Upload | None:
        """An upload by its random id alone (for a download link, which sends no header)."""
        return self._uploads.get(upload_id)

    def audit(self, upload: Upload, groups: list[str], y_true: str, y_pred: str,
              score: str | None) -> dict[str, Any]:
        """Audit an upload with ``bias-audit audit`` and remove the uploaded file.

        Returns
        -------
        dict
            The rows audited, and per grouping each group's rates with intervals (as text),
            plus the Markdown report's text.

        Raises
        ------
        UploadError
            A column that is not in the file, or the audit's own one-line refusal.
        """
        if upload.result_zip is not None or not upload.file.exists():
            raise UploadError("this file was audited already; upload it again to change columns")
        chosen = [*groups, y_true, y_pred, *([score] if score else [])]
        if not groups:
            raise UploadError("choose at least one group column")
        unknown = [c for c in chosen if c not in upload.columns]
        if unknown:
            raise UploadError(f"column {unknown[0]!r} is not in the file")
        out = upload.folder / "audit"
        # Columns go as --option=value, so a column named like an option stays a value.
        command = [sys.executable, "-m", "experiments.cli", "audit", upload.file.name,
                   *[f"--group={g}" for g in groups], f"--y-true={y_true}",
                   f"--y-pred={y_pred}", *([f"--score={score}"] if score else []),
                   f"--out={out.name}", "--quiet"]
        with self._audit_lock:
            try:
                done = subprocess.run(command, cwd=upload.folder, capture_output=True,
                                      text=True, timeout=AUDIT_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                self.remove(upload)
                raise UploadError(f"the audit took longer than {AUDIT_TIMEOUT} s and was "
                                  "stopped; try the command line for large files") from None
        upload.file.unlink(missing_ok=True)
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            message = lines[-1] if lines else f"the audit failed (exit {done.returncode})"
            self.remove(upload)
            raise UploadError(message.removeprefix("bias-audit audit: error: "))
        try:
            result = _read_audit(out)
            upload.result_zip = _zip_folder(out)
        finally:
            shutil.rmtree(upload.folder, ignore_errors=True)
        return result

    def remove(self, upload: Upload) -> None:
        """Forget an upload and remove its folder."""
        shutil.rmtree(upload.folder, ignore_errors=True)
        with self._lock:
            self._uploads.pop(upload.id, None)

    def expire(self) -> None:
        """Remove uploads older than :data:`UPLOAD_LIFETIME` that were never audited."""
        now = time.time()
        for upload in list(self._uploads.values()):
            if upload.result_zip is None and now - upload.created > UPLOAD_LIFETIME:
                self.remove(upload)

    def clear(self) -> None:
        """Remove every upload's folder (at shutdown)."""
        for upload in list(self._uploads.values()):
            self.remove(upload)


def _columns(file: Path) -> list[str]:
    """A file's column names, after checking its content matches its type."""
    with file.open("rb") as handle:
        head = handle.read(64 * 1024)
    if file.suffix == ".parquet":
        if not head.startswith(b"PAR1"):
            raise UploadError("this is not a Parquet file (it does not start with PAR1)")
        try:
            import pyarrow.parquet as pq

            return [str(c) for c in pq.ParquetFile(file).schema_arrow.names]
        except Exception as error:
            raise UploadError(f"cannot read this Parquet file: {error}") from None
    if b"\x00" in head:
        raise UploadError("this is not a CSV file (it holds binary data)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # a character cut at the end of the sample is fine
            raise UploadError("this CSV file is not UTF-8 text; save it as UTF-8") from None
    try:
        header = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as error:
        raise UploadError(f"cannot read this CSV file: {str(error).splitlines()[0]}") from None
    return [str(c) for c in header.iloc[0].tolist()]


def _read_audit(out: Path) -> dict[str, Any]:
    """The page's view of an audit folder: metrics.json (group names exactly as written)."""
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    table = pd.DataFrame(data.get("table", []))
    settings = data.get("settings", {})
    groupings = []
    for grouping, rows in table.groupby("grouping", sort=False):
        shown = []
        for group, cells in rows.groupby("group", sort=False):
            by_metric = {r["metric"]: r for _, r in cells.iterrows()}
            size = by_metric.get("n", {})
            entry = {"group": str(group),
                     "n": f"{int(size['value']):,}" if _number(size.get("value")) else
                     "withheld",
                     "rates": [_rate_text(by_metric.get(m)) for m in SHOWN_METRICS]}
            shown.append(entry)
        reference = str(rows["reference"].iloc[0]) if "reference" in rows else ""
        groupings.append({"grouping": str(grouping), "reference": reference, "groups": shown})
    return {"rows": settings.get("n_rows"), "dropped": settings.get("n_dropped"),
            "metrics": [METRIC_TITLES[m] for m in SHOWN_METRICS], "groupings": groupings,
            "report": (out / "report.md").read_text(encoding="utf-8")}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _rate_text(row: Any) -> str:
    if row is None or not _number(row.get("value")):
        return "—"
    low, high = row.get("ci_low"), row.get("ci_high")
    if _number(low) and _number(high):
        return f"{percent(row['value'])} ({percent(low)} to {percent(high)})"
    return percent(row["value"])


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
