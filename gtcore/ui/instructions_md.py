"""Team-lead instructions on the screen: Markdown without HTML, links only ``http``/``https``/``mailto``, and images
only the job's own example images, served by the product (``gtcore.core.textsafe.instruction_parts``); any other
image shows as its description, so the annotator's browser fetches nothing from elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import streamlit as st

from gtcore.core.textsafe import InstructionImage, instruction_parts, md_escape


def show_instructions(text: str, example_uris: Collection[str], load_image: Callable[[str], Any]) -> None:
    """Render ``text``; ``load_image(uri)`` gives an example image (``.ok``, ``.jpeg``, ``.error``)."""
    for part in instruction_parts(text, example_uris):
        if isinstance(part, InstructionImage):
            img = load_image(part.uri)
            if img.ok and img.jpeg is not None:
                st.image(img.jpeg, width="stretch")
                if part.alt:
                    st.caption(md_escape(part.alt))
            else:
                st.warning(md_escape(f"Example image not shown: {img.error}"), icon=":material/broken_image:")
        else:
            st.markdown(part)
