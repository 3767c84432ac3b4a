from django.apps import AppConfig


class MonstersConfig(AppConfig):
    name = "monsters"
    verbose_name = "Monsters"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from monsters.guards import database  # imports the models' neighbours: not at load

        database.install()
