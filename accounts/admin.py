"""The admin's login form, with the lockout of :mod:`accounts.login_lockout`."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm

from accounts import login_lockout
from livestream.client_address import request_client_address


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = request_client_address(self.request)
        message = login_lockout.locked_out_message(username=username, address=address)
        if message is not None:
            raise forms.ValidationError(message, code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_lockout.record_failure(username=username, address=address)
            raise
        login_lockout.record_success(username=username)
        return cleaned


admin.site.login_form = LockoutAdminAuthenticationForm
