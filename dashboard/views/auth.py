"""Sign in (throttled per account and address) and sign out."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from dashboard.forms import ThrottledAuthenticationForm


class SignInView(auth_views.LoginView):
    template_name = "login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        # 429 tells scripts and proxies this is a rate limit; a wrong password re-renders the form (200,
        # as Django does), so the browser logs no failed request.
        if getattr(form, "throttled", False):
            response.status_code = 429
        return response


sign_in = SignInView.as_view()
sign_out = auth_views.LogoutView.as_view()
