"""``manage.py seed_demo``: the demo's accounts, created or put back as documented.

Idempotent: running it again changes nothing on accounts already as documented, and
restores any that were deleted or altered (the tests delete bob and seed him back).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from demo_app.accounts import DEMO_ACCOUNTS


class Command(BaseCommand):
    help = "Create (or restore) the demo accounts: admin, alice and bob, with documented passwords."
    # migrate and runserver run the checks; seeding right after them need not run them again.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        rows = []
        with transaction.atomic():
            for account in DEMO_ACCOUNTS:
                user, created = user_model.objects.get_or_create(
                    username=account.username, defaults={"email": account.email}
                )
                changed = created
                wanted = {
                    "email": account.email,
                    "is_active": True,
                    "is_staff": account.is_superuser,
                    "is_superuser": account.is_superuser,
                }
                for field, value in wanted.items():
                    if getattr(user, field) != value:
                        setattr(user, field, value)
                        changed = True
                # Only re-hash when the password differs: setting it again would count
                # as a password change and could end the account's open sessions.
                if not user.check_password(account.password):
                    user.set_password(account.password)
                    changed = True
                if changed:
                    user.save()
                state = "created" if created else ("restored" if changed else "unchanged")
                rows.append((account, user, state))

        self.stdout.write("Demo accounts (id / username / password / email):")
        for account, user, state in rows:
            role = "superuser, role admin" if account.is_superuser else "ordinary user"
            self.stdout.write(
                f"  {user.pk:>3}  {account.username:<6} {account.password:<20} "
                f"{account.email:<18} {role} [{state}]"
            )
