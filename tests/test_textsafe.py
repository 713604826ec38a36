from streamlit.testing.v1 import AppTest

from gtcore.core.textsafe import escape_html, md_escape


def test_md_escape_neutralises_markdown_and_directives() -> None:
    raw = "a*b_c <script>alert(1)</script> :red[x] $1$ [link](http://evil) `code`"
    out = md_escape(raw)
    for token in ("*", "_", "<", ">", "[", "]", "`", "$"):
        assert f"\\{token}" in out
    assert md_escape("a\nb", single_line=True) == "a b"
    assert escape_html("<b>&") == "&lt;b&gt;&amp;"


def _app() -> None:
    import streamlit as st

    from gtcore.core.errors import Conflict, Problem, ValidationError
    from gtcore.ui.errors import show_error

    show_error(Conflict("user <script>alert(1)</script>*bold*@example.com exists"))
    show_error(ValidationError([Problem("bad <b>label</b>", where="m.manifest", line=3)]))
    st.write("done")


def test_show_error_renders_user_text_literally() -> None:
    at = AppTest.from_function(_app).run()
    assert not at.exception
    err = at.error[0].value
    assert "\\<script\\>" in err and "\\*bold\\*" in err
    assert "m.manifest, line 3: bad <b>label</b>" in at.code[0].value
