from pipelines.run.report import format_micros, render_table


def test_format_micros_is_exact() -> None:
    assert format_micros(0) == "0.000000"
    assert format_micros(61_728) == "0.061728"
    assert format_micros(1_402_101_345) == "1,402.101345"
    assert format_micros(-5) == "-0.000005"
    # beyond float precision: still exact
    assert format_micros(9_007_199_254_740_993) == "9,007,199,254.740993"


def test_render_table_aligns_columns() -> None:
    text = render_table(("a", "bb"), [("xxx", 1), (None, [])])
    lines = text.splitlines()
    assert lines[0].split() == ["a", "bb"]
    assert set(lines[1].strip().replace(" ", "")) == {"-"}
    assert lines[2].split() == ["xxx", "1"]
    assert lines[3].split() == ["-", "-"]
