from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = "Channels and messages"

    def ready(self) -> None:
        # Membership announces lost access by signal (it may not import this app).
        from channels_app.keys import receivers  # noqa: F401
