"""Managed blocks and Mermaid text: pure functions, exact strings."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vaultkit.errors import ManagedBlockError
from vaultkit.model.managed import block_content, outside_text, upsert_block
from vaultkit.output.formats import mermaid_label

BEGIN, END = "<!-- vaultkit:begin x -->", "<!-- vaultkit:end x -->"

UPSERTS = [
    ("", f"{BEGIN}\nnew\n{END}\n"),
    ("mine", f"mine\n\n{BEGIN}\nnew\n{END}\n"),
    ("mine\n", f"mine\n\n{BEGIN}\nnew\n{END}\n"),
    ("mine\n\n", f"mine\n\n{BEGIN}\nnew\n{END}\n"),
    (f"a\n{BEGIN}\nold\n{END}\nb", f"a\n{BEGIN}\nnew\n{END}\nb"),
    (f"a\r\n{BEGIN}\r\nold\r\n{END}\r\nb", f"a\r\n{BEGIN}\r\nnew\r\n{END}\r\nb"),
    (f"{BEGIN}\n{END}", f"{BEGIN}\nnew\n{END}"),
    (f"  {BEGIN}\t\n{END}", f"  {BEGIN}\nnew\n{END}"),  # spaces beside a marker
    # markers inside a line are text (a note name, a quote), never a block
    (f"{BEGIN}{END}", f"{BEGIN}{END}\n\n{BEGIN}\nnew\n{END}\n"),
    (f"see [[{END}]]\n", f"see [[{END}]]\n\n{BEGIN}\nnew\n{END}\n"),
    ("crlf\r\n", f"crlf\r\n\r\n{BEGIN}\r\nnew\r\n{END}\r\n"),
]


@pytest.mark.parametrize(("text", "expected"), UPSERTS)
def test_upsert(text: str, expected: str) -> None:
    assert upsert_block(text, "x", "new") == expected


@pytest.mark.parametrize(
    "text",
    [f"{END}\n{BEGIN}", f"{BEGIN}\n{BEGIN}\n{END}", f"{BEGIN}\nno end", f"{END}\nalone"],
)
def test_broken_markers_raise_instead_of_guessing(text: str) -> None:
    with pytest.raises(ManagedBlockError):
        upsert_block(text, "x", "new")


def test_other_blocks_are_not_touched() -> None:
    text = "<!-- vaultkit:begin y -->\nkeep\n<!-- vaultkit:end y -->\n"
    assert upsert_block(text, "x", "new").startswith(text)


user_text = st.text().filter(lambda t: "vaultkit:" not in t)


@given(user_text, user_text, st.text(), st.text())
@example(before="", after="", old="", new="\r")  # the block's "\r\n" once made it CRLF
def test_outside_text_is_kept_and_replacing_twice_equals_once(
    before: str, after: str, old: str, new: str
) -> None:
    old = old.replace("vaultkit:", "")
    new = new.replace("vaultkit:", "")
    text = f"{before}\n{BEGIN}\n{old}\n{END}\n{after}"
    once = upsert_block(text, "x", new)
    assert once.startswith(before + "\n" + BEGIN) and once.endswith(END + "\n" + after)
    assert upsert_block(once, "x", new) == once
    assert outside_text(once, "x") == before + "\n\n" + after


def test_block_content_reads_back_what_was_written() -> None:
    text = upsert_block("mine\r\n", "x", "line 1\nline 2")
    assert block_content(text, "x") == "line 1\nline 2"
    assert block_content("no block", "x") is None


MERMAID_LABELS = [  # each checked in Mermaid 11.13.0 by `make render-test`
    ("EXP-001 baseline", '"EXP-001 baseline"'),
    ('say "hi"', '"say #34;hi#34;"'),
    ("run #2", '"run #35;2"'),
    ("a #59; b", '"a #35;59#59; b"'),  # an entity-looking text stays literal
    ("end", '"end"'),
    ("%% of boxes", '"#37;#37; of boxes"'),  # else a comment to the end of the line
    ("%%{init: {}}%%", '"#37;#37;#123;init#58; #123;#125;#125;#37;#37;"'),  # a directive
    ("EXP direction TB", '"EXP #100;irection TB"'),  # else a direction statement
    ("a <b>bold</b><br>", '"a #60;b#62;bold#60;#47;b#62;#60;br#62;"'),  # not HTML
    ("x &amp; y", '"x #38;amp#59; y"'),  # not an entity
    ("$$x^2$$ `code`", '"#36;#36;x#94;2#36;#36; #96;code#96;"'),  # not math or Markdown
    ("lr=3e-4 [x] |w|", '"lr#61;3e-4 #91;x#93; #124;w#124;"'),
    ("é ü 中文", '"é ü 中文"'),  # letters stay as they are
    ("two\nlines", '"two lines"'),
    ("  padded ", '"#32;#32;padded#32;"'),  # else Mermaid trims the ends
    (" ", '"#32;"'),
    ("a\u00a0b", '"a#160;b"'),  # a no-break space is not a space to Mermaid either
]


@pytest.mark.parametrize(("text", "expected"), MERMAID_LABELS)
def test_mermaid_labels_are_quoted_and_escaped(text: str, expected: str) -> None:
    assert mermaid_label(text) == expected
