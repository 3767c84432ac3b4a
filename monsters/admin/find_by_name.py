"""Find a person's monster by name, without the name ever travelling in a URL.

The changelist's search box is a GET form: whatever it holds lands in the query string,
and from there in gunicorn's and nginx's access logs and in the next page's Referer. So
the box takes hashes only, and a name goes through this page instead: a POST form (CSRF
protected by the admin's own view wrapper) that hashes the name with the site's salt,
exactly as the public form does, and redirects to the changelist filtered by that hash.
The name is in no URL and no log line; only a refused name comes back, in the body of
the form's own answer.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from monsters.images import identity

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

TEMPLATE = "admin/monsters/generation/find_by_name.html"


class FindByNameForm(forms.Form):
    name = forms.CharField(
        label="Name",
        strip=True,
        max_length=identity.MAX_NAME_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        problem = identity.name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name


def changelist_of_hash(name_hash: str) -> str:
    """The changelist's rows of one hash: a search the box takes (a whole hash)."""
    return f"{reverse('admin:monsters_generation_changelist')}?q={name_hash}"


def find_by_name_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: a redirect to the rows of the name's hash (its monster's
    rows, or none, which the changelist says as for any search)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    form = FindByNameForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return HttpResponseRedirect(
            changelist_of_hash(identity.hash_name(form.cleaned_data["name"]))
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Find a monster by name",
        "form": form,
    }
    status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
    return TemplateResponse(request, TEMPLATE, context, status=status)
