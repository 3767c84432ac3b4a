from __future__ import annotations

from typing import Any

from django import forms

from monsters.images import identity

DEFAULT_NAME = "Joe Bloggs"


class NameInput(forms.TextInput):
    """A text input that never echoes back more than its maxlength: a 1 MB name is
    refused with its first 200 characters in the field, not the whole megabyte."""

    def format_value(self, value: object) -> str | None:
        text = super().format_value(value)
        return text[: identity.MAX_NAME_LENGTH] if text is not None else None


class NameForm(forms.Form):
    name = forms.CharField(
        label="Hello",
        strip=True,
        required=False,  # the emptiness check below gives our own message
        max_length=None,  # likewise the length check; the browser limit is the widget's
        widget=NameInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "maxlength": identity.MAX_NAME_LENGTH,
                "required": True,
            }
        ),
    )

    def __init__(self, *args: Any, utf8: bool = True, **kwargs: Any) -> None:
        """`utf8` False: the body this form's data came from was not UTF-8 (Django has
        replaced the bad bytes with U+FFFD, which must not become a name)."""
        super().__init__(*args, **kwargs)
        self.utf8 = utf8

    def clean_name(self) -> str:
        if not self.utf8:
            raise forms.ValidationError("A name must be valid UTF-8 text.")
        name: str = self.cleaned_data["name"]
        problem = identity.name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name
