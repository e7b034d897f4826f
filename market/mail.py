"""Mail: a console mailer by default (writes to the log and the instance outbox
folder), SMTP when MEGURI_MAILER=smtp. Messages go out through the job queue."""

from __future__ import annotations

import json
import logging
import smtplib
import uuid
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy.orm import Session

from market import tasks

log = logging.getLogger(__name__)


@dataclass
class Mail:
    to: str
    subject: str
    body: str


class ConsoleMailer:
    """Real default: every message is logged and kept as a JSON file to read back."""

    def __init__(self, folder: str, sender: str):
        self.folder = Path(folder)
        self.sender = sender

    def send(self, mail: Mail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{uuid.uuid4().hex}.json"
        path.write_text(
            json.dumps({"from": self.sender, **asdict(mail)}, ensure_ascii=False), encoding="utf-8"
        )
        log.info("mail to %s: %s", mail.to, mail.subject)

    def sent(self) -> list[dict]:
        if not self.folder.exists():
            return []
        files = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        return [json.loads(p.read_text(encoding="utf-8")) for p in files]


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str):
        self.host, self.port, self.sender = host, port, sender

    def send(self, mail: Mail) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, mail.to, mail.subject
        msg.set_content(mail.body)
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            smtp.send_message(msg)


def make_mailer(config) -> ConsoleMailer | SmtpMailer:
    if config["MAILER"] == "smtp":
        return SmtpMailer(config["SMTP_HOST"], int(config["SMTP_PORT"]), config["MAIL_FROM"])
    return ConsoleMailer(str(Path(config["INSTANCE_DIR"]) / "outbox"), config["MAIL_FROM"])


def send_later(session: Session, to: str, subject: str, body: str) -> None:
    """Queue a message; it is sent by a job after the current transaction commits."""
    tasks.enqueue(session, "mail", {"to": to, "subject": subject, "body": body})


@tasks.handler("mail")
def _send(_session: Session, job, progress) -> dict:
    from flask import current_app

    current_app.extensions["meguri.mailer"].send(Mail(**job.params))
    return {"sent_to": job.params["to"]}
