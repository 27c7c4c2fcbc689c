"""The demo's login view: a user deleted while signing in gets the form back, not a 500.

Run in a demo process (its settings, URLconf and middleware) through the test client,
with an authentication backend that deletes the user right after checking the password.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.browser.server import demo_environment, manage

SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from authzguard.models import IndexedSession

user = get_user_model()._default_manager.create_user("vanishing-erin", password="pw-erin")
backends = ["tests.sessions_support.VanishingUserBackend"]
with override_settings(AUTHENTICATION_BACKENDS=backends):
    browser = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    answer = browser.post("/accounts/login/", {"username": "vanishing-erin", "password": "pw-erin"})
    whoami = json.loads(browser.get("/whoami/").content)
print(json.dumps({
    "status": answer.status_code,
    "form_error": "didn't match" in answer.content.decode(),
    "authenticated": whoami["authenticated"],
    "user_exists": get_user_model()._default_manager.filter(pk=user.pk).exists(),
    "index_rows": IndexedSession.objects.filter(user_id=user.pk).count(),
}))
"""


def test_a_login_whose_user_is_deleted_meanwhile_is_an_ordinary_failed_login(
    demo_migrated_sqlite: Path, tmp_path: Path
) -> None:
    database = tmp_path / "demo.sqlite3"
    shutil.copy(demo_migrated_sqlite, database)
    env = demo_environment({"DATABASE_URL": f"sqlite:///{database}"})

    output = manage(env, "shell", "-c", SCRIPT)

    assert json.loads(output.strip().splitlines()[-1]) == {
        "status": 200,
        "form_error": True,
        "authenticated": False,
        "user_exists": False,
        "index_rows": 0,
    }
