"""Per-user session generations: how ``signed_cookies`` sessions are ended server-side.

A signed cookie carries the generation it was issued under; purging bumps the user's
generation, and the middleware treats any cookie with an older one as anonymous.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from authzguard.models import SessionGeneration

#: Session data key holding the generation a session was issued under.
GENERATION_SESSION_KEY = "_authzguard_generation"


def current_generation(user_pk: str) -> int:
    value = (
        SessionGeneration.objects.filter(user_pk=user_pk)
        .values_list("generation", flat=True)
        .first()
    )
    return value or 0


def bump_generation(user_pk: str) -> int:
    """Invalidate every session issued so far to this user; return the new generation."""
    with transaction.atomic():
        updated = SessionGeneration.objects.filter(user_pk=user_pk).update(
            generation=F("generation") + 1
        )
        if not updated:
            try:
                with transaction.atomic():
                    SessionGeneration.objects.create(user_pk=user_pk, generation=1)
            except IntegrityError:
                # Another process created the row first: increment theirs.
                SessionGeneration.objects.filter(user_pk=user_pk).update(
                    generation=F("generation") + 1
                )
        return current_generation(user_pk)
