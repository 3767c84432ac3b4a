"""django-csp's middleware, with the settings' policies built once per process.

django-csp builds both policies (enforced and report-only) from the settings on every
response, a deep copy and a join of every directive, even for a response that is exempt
and gets neither: about a tenth of the CPU of a page, and as much again on an image
answered by Django (images carry policies of their own, `image_headers`). Here a
response that changes nothing of the policy (no csp_update/csp_replace/csp decorator,
no nonce asked for) gets the settings' policies, built once; any other response is left
to django-csp, as before. The rules for setting the headers are django-csp's own.
"""

from __future__ import annotations

from dataclasses import asdict

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from monsters.per_settings import per_settings

# What django-csp's decorators set on a response to change its policy.
_CUSTOMISING = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
_DEBUG_PAGES = (404, 500)  # django-csp leaves Django's debug pages alone


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        customised = any(getattr(response, name, None) is not None for name in _CUSTOMISING)
        if customised or getattr(request, "_csp_nonce", None) is not None:
            return super().process_response(request, response)
        if response.status_code in _DEBUG_PAGES and settings.DEBUG:
            return response
        enforced, report_only = _settings_policies()
        self._set(request, response, HEADER, enforced, exempt="_csp_exempt")
        self._set(request, response, HEADER_REPORT_ONLY, report_only, exempt="_csp_exempt_ro")
        # As django-csp does: a nonce asked for after this point could not be in the header.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

    @staticmethod
    def _set(
        request: HttpRequest, response: HttpResponseBase, header: str, policy: str, *, exempt: str
    ) -> None:
        if not policy or getattr(response, exempt, False) or header in response:
            return
        report_only = header == HEADER_REPORT_ONLY
        setting = "CONTENT_SECURITY_POLICY" + ("_REPORT_ONLY" if report_only else "")
        excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
        if not request.path_info.startswith(tuple(excluded)):
            response[header] = policy


@per_settings
def _settings_policies() -> tuple[str, str]:
    """The enforced and report-only policies the settings alone make (either may be "")."""
    plain = ContentSecurityPolicyMiddleware(lambda request: HttpResponseBase())
    request, response = HttpRequest(), HttpResponseBase()
    enforced = build_policy(**asdict(plain.get_policy_parts(request, response)))
    report_only = build_policy(
        **asdict(plain.get_policy_parts(request, response, report_only=True)), report_only=True
    )
    return enforced, report_only
