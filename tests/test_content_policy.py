"""The Content-Security-Policy middleware: django-csp's headers, its policies built
once per process (monsters/web/content_policy.py)."""

from __future__ import annotations

import re

import csp.middleware
import pytest
from csp.constants import NONE, SELF
from csp.decorators import csp_exempt, csp_update
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.http import HttpResponse

from monsters.web import content_policy
from monsters.web.content_policy import ContentSecurityPolicyMiddleware

POLICY = {"DIRECTIVES": {"default-src": [SELF], "object-src": [NONE]}}


def page(request):
    return HttpResponse("page")


@csp_exempt()
def exempt(request):
    return HttpResponse("image")


@csp_update({"img-src": ["https://images.example"]})
def updated(request):
    return HttpResponse("page")


def with_a_nonce(request):
    return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")


def own_header(request):
    response = HttpResponse("page")
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def headers(middleware_class, view, request):
    response = middleware_class(view)(request)
    return {
        name: re.sub(r"'nonce-[^']+'", "'nonce-X'", value)
        for name, value in response.items()
        if name.startswith("Content-Security-Policy")
    }


@pytest.mark.parametrize("view", [page, exempt, updated, with_a_nonce, own_header])
@pytest.mark.parametrize("report_only", [False, True])
def test_it_sets_the_headers_django_csp_sets(rf, settings, view, report_only):
    settings.CONTENT_SECURITY_POLICY = POLICY
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = (
        {"DIRECTIVES": {"default-src": [NONE]}} if report_only else None
    )
    ours = headers(ContentSecurityPolicyMiddleware, view, rf.get("/"))
    assert ours == headers(CSPMiddleware, view, rf.get("/"))
    assert ("Content-Security-Policy" in ours) == (view is not exempt)
    # csp_exempt() exempts from the enforced policy only, as in django-csp
    assert ("Content-Security-Policy-Report-Only" in ours) == report_only


def test_excluded_paths_get_no_policy(rf, settings):
    settings.CONTENT_SECURITY_POLICY = {**POLICY, "EXCLUDE_URL_PREFIXES": ["/excluded"]}
    assert headers(ContentSecurityPolicyMiddleware, page, rf.get("/excluded/page")) == {}
    assert headers(ContentSecurityPolicyMiddleware, page, rf.get("/page")) != {}


def test_a_changed_setting_changes_the_policy(rf, settings):
    settings.CONTENT_SECURITY_POLICY = POLICY
    first = headers(ContentSecurityPolicyMiddleware, page, rf.get("/"))
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [NONE]}}
    assert headers(ContentSecurityPolicyMiddleware, page, rf.get("/")) == {
        "Content-Security-Policy": "default-src 'none'"
    }
    assert sorted(first["Content-Security-Policy"].split("; ")) == [
        "default-src 'self'",
        "object-src 'none'",
    ]


def test_a_nonce_asked_for_after_the_header_is_written_is_refused(rf, settings):
    settings.CONTENT_SECURITY_POLICY = POLICY
    request = rf.get("/")
    ContentSecurityPolicyMiddleware(page)(request)
    with pytest.raises(Exception, match="not available after the CSP header"):
        str(request.csp_nonce)


def test_the_shipped_stack_builds_a_pages_policy_once_not_per_response(client, monkeypatch):
    """What the middleware is for, through the shipped MIDDLEWARE: django-csp's own would
    build the policies again for every page."""
    client.get("/")  # the first page builds the settings' policies for the process
    built = []

    def counting_build_policy(*args, **kwargs):
        built.append(kwargs)
        return build_policy(*args, **kwargs)

    monkeypatch.setattr(csp.middleware, "build_policy", counting_build_policy)
    monkeypatch.setattr(content_policy, "build_policy", counting_build_policy)
    pages = [client.get("/") for _ in range(3)]
    assert all("Content-Security-Policy" in page for page in pages)
    assert built == []
