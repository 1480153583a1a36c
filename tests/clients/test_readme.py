"""The README's client snippets run, unchanged except for the address, against a real server."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import REPO

SNIPPETS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_readme_has_client_snippets():
    assert len(SNIPPETS) >= 2


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(database, start_server, index):
    database.execute(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 3) g",
    )
    server = start_server()
    code = SNIPPETS[index].replace("grpc://localhost:8080", server.grpc_uri)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md python snippet {index}", "exec"), {})
    text = out.getvalue()
    # Each snippet shows either the server's identity or the sample table's 3 rows last.
    assert "PostgreSQL" in text or text.split()[-1] == "3", text
