"""The bot predicate as Flink evaluates it: LIKE wildcards in a configured token are literal."""

from __future__ import annotations

from pipelines.flink.job import FlinkOptions, create_table_environment
from pipelines.flink.sql import contains_any_token

CASES = {
    "Mozilla/5.0 (compatible; GoogleBOT/2.1)": True,  # any case
    "x 50%_off\\ y": True,  # the token itself, wildcards and backslash literal
    "x 50xxoff\\ y": False,  # % and _ are not wildcards
    "O'Brien crawler-ish": True,
    "Mozilla/5.0 (X11; Linux x86_64)": False,
}


def test_tokens_match_literally_case_insensitively_and_null_is_not_a_bot() -> None:
    t_env = create_table_environment(FlinkOptions(parallelism=1))
    predicate = contains_any_token("ua", ["Bot", "50%_off\\", "o'b"])
    values = ", ".join("('" + ua.replace("'", "''") + "')" for ua in CASES)
    values += ", (CAST(NULL AS STRING))"
    result = t_env.execute_sql(f"SELECT ua, {predicate} FROM (VALUES {values}) AS v(ua)")
    with result.collect() as rows:
        got = {row[0]: row[1] for row in rows}
    assert got == {**CASES, None: False}
