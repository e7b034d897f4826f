"""Each gunicorn worker warms the embedded search engine as it starts (gunicorn.conf.py),
unless MEGURI_SEARCH_WARM=0."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from market import collector

CONF = Path(__file__).resolve().parents[3] / "gunicorn.conf.py"


class Index:
    warmed = 0

    def warm(self):
        self.warmed += 1


@pytest.mark.parametrize("setting, warmed", [(None, 1), ("1", 1), ("0", 0)])
def test_a_worker_warms_the_search_index_unless_told_not_to(monkeypatch, setting, warmed):
    monkeypatch.setattr(collector, "install", lambda: None)
    if setting is None:
        monkeypatch.delenv("MEGURI_SEARCH_WARM", raising=False)
    else:
        monkeypatch.setenv("MEGURI_SEARCH_WARM", setting)
    index = Index()
    hooks = runpy.run_path(str(CONF))
    hooks["post_worker_init"](
        SimpleNamespace(wsgi=SimpleNamespace(extensions={"meguri.search": index}))
    )
    hooks["post_worker_init"](SimpleNamespace(wsgi=SimpleNamespace(extensions={})))  # no index
    assert index.warmed == warmed
