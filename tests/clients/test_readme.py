"""The README's client snippets run, unchanged except for the address, against a real server."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import READER, REPO
from sparkenv import spark_environment, stop_active_session

SNIPPETS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_readme_has_client_snippets():
    assert len(SNIPPETS) >= 2


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(database, start_server, index):
    database.execute(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 3) g",
    )
    changes = '"changes"' in SNIPPETS[index]
    if changes:
        # What README "Change data capture" asks of an administrator.
        database.execute(
            f"ALTER ROLE {READER} REPLICATION",
            "CREATE PUBLICATION etl_users FOR TABLE users",
        )
    server = start_server()
    code = SNIPPETS[index].replace("grpc://localhost:8080", server.grpc_uri)
    out = io.StringIO()
    uses_spark = "pgflight_spark" in code  # the Spark data source's snippet (Scaling out)
    try:
        with contextlib.ExitStack() as stack:
            if uses_spark:
                stack.enter_context(spark_environment())
                stack.callback(stop_active_session)
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"README.md python snippet {index}", "exec"), {})
    finally:
        if changes:
            database.execute(f"ALTER ROLE {READER} NOREPLICATION")
    text = out.getvalue()
    # Each snippet shows either the server's identity or the sample table's 3 rows last.
    assert "PostgreSQL" in text or text.split()[-1] == "3", text


def quoted_region(path) -> str:
    """The lines between `README-BEGIN` and `README-END` of a test source, dedented."""
    import textwrap

    text = path.read_text(encoding="utf-8")
    region = text.split("README-BEGIN\n", 1)[1].split("README-END", 1)[0]
    lines = region.splitlines()
    while lines and (not lines[-1].strip() or lines[-1].strip() == "//"):
        lines.pop()
    return textwrap.dedent("\n".join(lines)).strip()


@pytest.mark.parametrize(
    "language,source",
    [("go", "tests/go/readme_test.go"), ("java", "tests/jdbc/src/test/java/pgflight/ReadmeExampleTest.java")],
)
def test_readme_quotes_the_go_and_java_examples_the_suites_run(language, source):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.findall(rf"```{language}\n(.*?)```", readme, flags=re.S)]
    assert quoted_region(REPO / source) in blocks, (
        f"README.md has no ```{language} block equal to the README-BEGIN/END region of {source}"
    )
