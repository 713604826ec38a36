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


def test_md_escape_shows_what_gfm_would_autolink_as_code() -> None:
    out = md_escape("[Session expired](https://evil.example/login) mail a@b.example www.x.example s3://b/k`1")
    assert "`https://evil.example/login)`" in out and "`a@b.example`" in out and "`www.x.example`" in out
    assert "``s3://b/k`1``" in out  # a backtick inside: a longer fence
    assert out.startswith(r"\[Session expired\]\(")


def test_instruction_links_and_images() -> None:
    from gtcore.core.textsafe import InstructionImage, instruction_parts

    parts = instruction_parts(
        "See [guide](https://example.org/g) [x](javascript:alert(1)) [y](data:text/html,z) [m](mailto:a@b.example) "
        "[rel](/_gt/session)\n\n![remote](http://evil.example/p.png) ![own](s3://b/ex.jpg) after\n\n"
        "[r]: javascript:alert(2)\n[click][r] ![ref][r]",
        ["s3://b/ex.jpg"],
    )
    assert parts[1] == InstructionImage("s3://b/ex.jpg", "own")
    before, after = str(parts[0]), str(parts[2])
    assert "[guide](https://example.org/g)" in before and "[m](mailto:a@b.example)" in before
    assert "javascript" not in before and "data:" not in before and "(/_gt/session)" not in before
    assert "image not shown" in before and "evil.example/p.png" not in before
    assert r"\[r\]\:" in after  # the definition is shown as text
