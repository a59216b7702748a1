"""Human text cleaning: the quick answer for text with nothing to clean is the full one."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from schemas.text import cleaned_line, one_line

TRICKY = "\t\n\r\x00\x85\xa0\u2028\u2029\u202e\u200f\u2066 \u3000\u00adé👩‍💻"


@given(st.text(alphabet=st.characters() | st.sampled_from(TRICKY)))
@example("Ada Lovelace")
@example(" Ada")
@example("Ada  Lovelace")
@example("Ada\u00a0Lovelace")
@example("Ada\u202eecalevoL")
def test_one_line_answers_what_cleaning_every_character_does(text: str) -> None:
    assert one_line(text) == cleaned_line(text)
