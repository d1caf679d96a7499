"""An override Hydra's grammar cannot read is named, with the way to write it, in one line."""

from __future__ import annotations

import shlex

import pytest

from trainer.config import compose_config
from trainer.errors import ConfigError


def _error(*overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        compose_config(list(overrides))
    message = str(caught.value)
    assert "\n" not in message and "LexerNoViableAltException" not in message
    return message


@pytest.mark.parametrize(
    ("value", "special"),
    [(";", "';' is"), ("a#b", "'#' is"), ("a(b", "'(' is"), ("x;y#z", "';' and '#' are")],
)
def test_a_value_with_hydra_syntax_is_shown_quoted_and_the_quoted_form_works(
    value: str, special: str
) -> None:
    message = _error("data=csv", f"data.source.sep={value}")
    assert message.startswith(f"Could not parse 'data.source.sep={value}': {special} Hydra syntax")
    pasted = message.rsplit("for the shell: ", 1)[1].rstrip(".")
    [override] = shlex.split(pasted)  # what the shell hands over when the suggestion is pasted
    cfg = compose_config(["data=csv", override]).cfg
    assert cfg.data.source.sep == value


def test_an_unclosed_list_is_shown_closed() -> None:
    message = _error("model.hidden_sizes=[64,32")
    assert message.startswith("Could not parse 'model.hidden_sizes=[64,32': the list is not closed")
    assert message.endswith("write it as 'model.hidden_sizes=[64,32]'.")


def test_a_word_without_a_value_is_not_an_override() -> None:
    assert _error("optimizer.lr").startswith("'optimizer.lr' is not an override: write key=value")
