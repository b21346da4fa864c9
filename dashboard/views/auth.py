"""Sign in (failures slow the account down; a browser that signed in before keeps its own count) and
sign out."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views

from dashboard.forms import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, ThrottledAuthenticationForm, device_cookie_value


class SignInView(auth_views.LoginView):
    template_name = "login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if not form.signed_in_device:
            # This browser now counts its failures apart from everyone else's for this account.
            response.set_cookie(
                DEVICE_COOKIE,
                device_cookie_value(form.get_user().email),
                max_age=DEVICE_COOKIE_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        # 429 tells scripts and proxies this is a rate limit; a wrong password re-renders the form (200,
        # as Django does), so the browser logs no failed request.
        if getattr(form, "throttled", False):
            response.status_code = 429
        return response


sign_in = SignInView.as_view()
sign_out = auth_views.LogoutView.as_view()
