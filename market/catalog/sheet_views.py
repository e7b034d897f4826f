"""Import and export of one's listings on the web: download CSV/XLSX; upload a file, see a
preview with every error by row and column, confirm; long files show their progress."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from market import tasks
from market.catalog import imports, sheets
from market.catalog.queries import organisation_listings
from market.core.writes import commit
from market.services import db_session
from market.tasks import Job

bp = Blueprint("listing_files", __name__)

STAGES = {"checking": _l("Checking rows"), "writing": _l("Saving listings")}


def _locale() -> str:
    return str(get_locale() or "ja")


def _organisation_id() -> int:
    if current_user.organisation_id is None:
        abort(404)
    return current_user.organisation_id


@bp.get("/my/listings/export.<any(csv, xlsx):fmt>")
@login_required
def export(fmt: str):
    listings = organisation_listings(db_session(), _organisation_id())
    lang = request.args.get("headers") if request.args.get("headers") in ("ja", "en") else "ja"
    write = sheets.write_xlsx if fmt == "xlsx" else sheets.write_csv
    return Response(
        write(listings, lang),
        mimetype=sheets.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="listings.{fmt}"'},
    )


@bp.route("/my/listings/import", methods=["GET", "POST"])
@login_required
def upload():
    _organisation_id()
    error = None
    if request.method == "POST":
        file = request.files.get("file")
        content = file.read() if file and file.filename else b""
        if not content:
            error = _("Choose a CSV or XLSX file.")
        elif len(content) > sheets.MAX_BYTES:
            error = _("The file is larger than %(n)s MB.", n=sheets.MAX_BYTES // 2**20)
        else:
            stored = imports.store_file(content)
            job = commit(lambda s: _start(s, stored, dry_run=True, filename=file.filename))
            return redirect(url_for("listing_files.job", job_id=job.id))
    return _upload_page(error), (400 if error else 200)


def _upload_page(error: str | None = None):
    return render_template(
        "catalog/import.html",
        error=error,
        columns=list(
            zip(sheets.columns(), sheets.headers("ja"), sheets.headers("en"), strict=True)
        ),
        max_rows=sheets.MAX_ROWS,
    )


def _start(session, name: str, *, dry_run: bool, filename: str) -> Job:
    return tasks.enqueue(
        session,
        "listing_import",
        {
            "user_id": current_user.id,
            "file": name,
            "filename": filename[:200],
            "dry_run": dry_run,
            "locale": _locale(),
        },
        dedupe_key=None if dry_run else f"listing_import:{name}",
    )


def _own_job(job_id: str) -> Job:
    job = db_session().get(Job, job_id[:36])
    if job is None or job.kind != "listing_import" or job.params.get("user_id") != current_user.id:
        abort(404)
    return job


@bp.get("/my/listings/import/<job_id>")
@login_required
def job(job_id: str):
    job = _own_job(job_id)
    result = job.result or {}
    labels = dict(zip([c.name for c in sheets.columns()], sheets.headers(_locale()), strict=True))
    return render_template(
        "catalog/import_job.html",
        job=job,
        result=result,
        stage=str(STAGES.get(job.stage, "")),
        labels=labels,
        shown=len(result.get("rows") or []),
        total=sum(result.get(k, 0) for k in ("created", "updated", "unchanged")),
    )


@bp.get("/my/listings/import/<job_id>/progress.json")
@login_required
def progress(job_id: str):
    job = _own_job(job_id)
    return jsonify(
        status=job.status,
        stage=str(STAGES.get(job.stage, "")),
        progress=job.progress,
    )


@bp.post("/my/listings/import/<job_id>/confirm")
@login_required
def confirm(job_id: str):
    preview = _own_job(job_id)
    result = preview.result or {}
    if result.get("confirmed"):  # confirmed twice (a double click): the import runs once
        return redirect(url_for("listing_files.job", job_id=result["confirmed"]))
    if (
        preview.status != "done"
        or not preview.params.get("dry_run")
        or result.get("errors")
        or result.get("gone")
        or not imports.stored_file(preview.params["file"]).exists()
    ):
        flash(_("This file cannot be imported: upload it again."), "error")
        return redirect(url_for("listing_files.upload"))

    def start(s) -> Job:
        job = _start(
            s, preview.params["file"], dry_run=False, filename=preview.params.get("filename", "")
        )
        preview.result = {**result, "confirmed": job.id}
        return job

    job = commit(start)
    return redirect(url_for("listing_files.job", job_id=job.id))
