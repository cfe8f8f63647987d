from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "safepassage.vault"
    label = "vault"
    verbose_name = "Vault"

    def ready(self) -> None:
        # Registers the start-up checks (Argon2id floor, secrets).
        from . import checks  # noqa: F401
