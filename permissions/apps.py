from django.apps import AppConfig


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = "People and access"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from permissions.sign_in.sessions import record_sign_in

        user_logged_in.connect(record_sign_in, dispatch_uid="exchange-record-sign-in")
