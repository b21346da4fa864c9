from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DatasetsAppConfig(AppConfig):
    name = "datasets_app"
    verbose_name = "Datasets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        from . import lookups  # noqa: F401  (registers the ilike lookup)
        from .sdk import accounts

        # Saving an inactive user (admin, `manage.py shell`, accounts.deactivate_user) revokes
        # their bearer tokens for good: re-activating the account does not bring them back.
        post_save.connect(
            accounts.revoke_tokens_of_inactive_user,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="datasets_app.revoke_tokens_of_inactive_user",
        )

        # The rate limiter and the sign-in throttle count in Django's database cache by default
        # (settings.CACHES): `migrate` makes its table, so no deployment needs an extra step.
        post_migrate.connect(create_cache_tables, sender=self, dispatch_uid="datasets_app.create_cache_tables")


def create_cache_tables(using: str = "default", **_) -> None:
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)
