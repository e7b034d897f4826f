"""The one way a request writes (market/core/writes.py): a write is committed once, or
refused with nothing of it kept; a declared form that is broken writes nothing and names
each field; NotFound stays a 404 rather than a message on the form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from market.accounts.models import Organisation, OrgKind
from market.core.forms import Form, Text
from market.core.writes import commit, commit_or_refuse, submit
from market.errors import Conflict, Invalid, NotFound


class NameForm(Form):
    name: Text(10) = ""
    city: Text(10) = ""


def organisations(app) -> int:
    with app.app_context():
        return app.extensions["meguri.db"].session().scalar(select(func.count(Organisation.id)))


def add(s, name: str = "Tōto") -> Organisation:
    org = Organisation(name=name, kind=OrgKind.contractor)
    s.add(org)
    s.flush()
    return org


def test_a_write_is_committed_once(app):
    before = organisations(app)
    with app.test_request_context(method="POST"):
        org = commit(add)
        assert org.id is not None
    assert organisations(app) == before + 1


def test_a_refusal_keeps_nothing_and_names_every_field(app):
    before = organisations(app)

    def refused(s):
        add(s)
        raise Invalid({"name": "taken", "city": "unknown"}, status=400)

    with app.test_request_context(method="POST"):
        done = commit_or_refuse(refused)
    assert not done.ok and done.status == 400
    assert done.errors == {"name": "taken", "city": "unknown"}
    assert organisations(app) == before


def test_a_refusal_of_the_whole_request_is_filed_under_form(app):
    def conflict(s):
        add(s)
        raise Conflict("not now")

    with app.test_request_context(method="POST"):
        done = commit_or_refuse(conflict)
        assert (done.status, done.errors) == (409, {"form": "not now"})
        # a kind the page does not show is the error page's: rolled back and raised
        with pytest.raises(Conflict):
            commit_or_refuse(conflict, refuse=(Invalid,))


def test_not_found_is_never_a_form_message(app):
    def missing(s):
        add(s)
        raise NotFound("no such thing")

    before = organisations(app)
    with app.test_request_context(method="POST"), pytest.raises(NotFound):
        commit_or_refuse(missing)
    assert organisations(app) == before


def test_a_result_not_worth_keeping_is_rolled_back(app):
    before = organisations(app)
    with app.test_request_context(method="POST"):
        org = commit(add, keep=lambda _org: False)  # a dry run
        assert org.name == "Tōto"
    assert organisations(app) == before


def test_a_broken_form_writes_nothing_and_names_each_field(app):
    before = organisations(app)
    data = {"name": "x" * 11, "city": "y" * 11, "csrf_token": "ignored", "_scheme": "https"}
    with app.test_request_context(method="POST", data=data):
        done = submit(NameForm, lambda s, form: add(s, form.name))
    assert not done.ok and done.status == 400
    assert set(done.errors) == {"name", "city"}
    assert organisations(app) == before
    with app.test_request_context(method="POST", data={"name": "ok", "other": "x"}):
        done = submit(NameForm, lambda s, form: add(s, form.name))
        assert done.ok and done.result.name == "ok"  # undeclared keys never reach the write
    assert organisations(app) == before + 1
