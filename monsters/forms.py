from __future__ import annotations

from django import forms

from . import identity

DEFAULT_NAME = "Joe Bloggs"


class NameForm(forms.Form):
    name = forms.CharField(
        label="Hello",
        strip=True,
        required=False,  # the emptiness check below gives our own message
        max_length=None,  # likewise the length check; the browser limit is the widget's
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "maxlength": identity.MAX_NAME_LENGTH,
                "required": True,
            }
        ),
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        problem = identity.name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name
