"""Markdown in, one self-contained HTML page out: escaping kept, figures embedded, numbers readable."""

import numpy as np

from nnlab.reporting.render import cell, figure, format_value, html_page, markdown_to_html, table


def test_raw_html_in_markdown_is_escaped_not_interpreted():
    html = markdown_to_html("a <script>alert(1)</script> and <b>bold</b>\n\n**real bold**")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    assert "<strong>real bold</strong>" in html


def test_lists_and_tables_render_as_such():
    html = markdown_to_html("- one\n- two\n\n" + table([{"a": 1, "b": 2.0}]))
    assert html.count("<li>") == 2 and "<table>" in html and "<td>1</td>" in html


def test_relative_images_are_embedded_and_missing_ones_left_alone(tmp_path):
    (tmp_path / "fig.png").write_bytes(b"\x89PNG fake")
    page = html_page("t", figure("fig.png", "a caption") + "\n![gone](nope.png)\n", base=tmp_path)
    assert page.count("data:image/png;base64,") == 1 and 'src="nope.png"' in page
    assert "<em>a caption</em>" in page and page.startswith("<!doctype html>")


def test_the_page_title_is_escaped():
    assert "<title>a &lt;b&gt;</title>" in html_page("a <b>", "x")


def test_cells_round_floats_and_escape_pipes():
    assert cell(0.30840000000000001) == "0.3084" and cell("0.123456789") == "0.1235"
    assert cell(12345) == "12,345" and cell("7") == "7" and cell(None) == "-" and cell(True) == "yes"
    assert cell("a|b") == "a\\|b" and cell(float("nan")) == "n/a" and cell(np.float64(2.5)) == "2.5"


def test_values_are_written_in_their_units():
    assert format_value(0.75532, "fraction") == "75.53%"
    assert format_value(10.8250155, "years") == "10.83 years"
    assert format_value(10240, "count") == "10,240" and format_value(61.234, "s") == "61.2 s"
    assert format_value(0.0059311, "MSE") == "0.0059311" and format_value(1.5197, "nats") == "1.5197"
    assert format_value(None, "years") == "-" and cell("000") == "000"
