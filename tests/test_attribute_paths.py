"""Attribute paths across relations: what they read, what they cost, and the system
checks (``authzguard.E060``-``E062``) for those that can never be read (issue 12.3)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from authzguard.attributes import attribute_column, column_for, plan_attributes
from authzguard.checks import check_enforcement
from authzguard.policy import load_policy
from authzguard.policy.model import Attribute, ResourceKind
from authzguard.resolvers import attribute_reader, read_to_many, resource_attributes
from tests.projectapp.models import Invoice, Project
from tests.testapp.models import Note

POLICY = Path(__file__).resolve().parent / "projectapp" / "policies" / "projects.yaml"


def kind(model: str, **paths: tuple[str, str]) -> ResourceKind:
    """A kind whose attributes read ``paths``: name -> (type, field)."""
    return ResourceKind(
        "k",
        model=model,
        attributes={n: Attribute(n, t, field=f) for n, (t, f) in paths.items()},  # type: ignore[arg-type]
    )


@pytest.fixture
def apollo(db: None) -> Project:
    olivia, mike, zoe = (User.objects.create_user(n) for n in ("olivia", "mike", "zoe"))
    project = Project.objects.create(owner=olivia, name="Apollo")
    project.team.add(zoe, mike)
    Invoice.objects.create(project=project, amount=Decimal(1))
    Invoice.objects.create(project=project, amount=Decimal(2))
    return project


# -- reading ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_to_many_relations_read_as_lists_of_keys_one_query_each(apollo: Project) -> None:
    invoice = Invoice.objects.select_related("project").filter(project=apollo).first()
    assert invoice is not None
    team = sorted(apollo.team.values_list("pk", flat=True))
    bills = sorted(apollo.invoices.values_list("pk", flat=True))
    owner, member = apollo.owner, apollo.team.get(username="mike")
    cases: list[tuple[object, str, object]] = [
        (apollo, "team", team),  # many-to-many
        (apollo, "invoices", bills),  # reverse foreign key, by its related name
        (invoice, "project.team", team),  # across a foreign key, then to-many
        (invoice, "project__team", team),
        (member, "team_projects", [apollo.pk]),  # reverse many-to-many
        (owner, "team_projects", []),
        (owner, "owned_projects", [apollo.pk]),
    ]
    for obj, path, expected in cases:
        with CaptureQueriesContext(connection) as captured:
            value = attribute_reader(type(obj), path)(obj)
        assert value == expected, path
        assert len(captured.captured_queries) == 1, path


@pytest.mark.django_db
def test_a_reverse_relation_is_read_by_its_accessor_too(apollo: Project) -> None:
    note = Note.objects.create(owner=apollo.owner, slug="n", title="N")
    assert attribute_reader(User, "note_set")(apollo.owner) == [note.pk]
    assert attribute_reader(User, "note")(apollo.owner) == [note.pk]


@pytest.mark.django_db
def test_an_empty_relation_is_an_empty_list_and_a_missing_object_matches_nothing(
    apollo: Project,
) -> None:
    lonely = Project.objects.create(owner=apollo.owner, name="Lonely")
    assert attribute_reader(Project, "team")(lonely) == []
    with CaptureQueriesContext(connection) as captured:
        assert read_to_many(Project, "team", None) == []
    assert len(captured.captured_queries) == 1


@pytest.mark.django_db
def test_a_foreign_key_across_relations_is_read_from_the_joined_row(apollo: Project) -> None:
    """``project.owner`` is the joined project's ``owner_id``: the owner is never loaded."""
    invoice = Invoice.objects.select_related("project").get(pk=apollo.invoices.first().pk)  # type: ignore[union-attr]
    with CaptureQueriesContext(connection) as captured:
        for path in ("project.owner", "project__owner", "project.owner_id"):
            assert attribute_reader(Invoice, path)(invoice) == apollo.owner_id, path
    assert captured.captured_queries == []


@pytest.mark.django_db
def test_deeper_paths_are_joined_in_the_target_query(apollo: Project) -> None:
    from authzguard.resolvers import TargetQuery, fetch_target

    deep = kind(
        "projectapp.Invoice",
        owner=("key", "project.owner"),
        email=("str", "project.owner.email"),
        team=("list", "project.team"),
    )
    pk = apollo.invoices.first().pk  # type: ignore[union-attr]
    query = TargetQuery(Invoice, "pk", pk, "pk", "path", "default")
    with CaptureQueriesContext(connection) as captured:
        target = fetch_target(query, deep)
        attributes = resource_attributes(target.obj, deep)
    assert dict(attributes) == {
        "owner": apollo.owner_id,
        "email": apollo.owner.email,
        "team": sorted(apollo.team.values_list("pk", flat=True)),
    }
    # The invoice with its project and the project's owner, then the team.
    assert len(captured.captured_queries) == 2
    assert "projectapp_project_team" in captured.captured_queries[1]["sql"]
    assert "projectapp_project_team" not in captured.captured_queries[0]["sql"]


def test_only_the_lists_an_action_reads_are_queried() -> None:
    policy = load_policy([POLICY])
    project = policy.resources["project"]
    viewing = plan_attributes(policy, project, "view")
    editing = plan_attributes(policy, project, "edit")
    assert viewing.lists == ((Project, "team"),) and viewing.skip == frozenset()
    assert editing.lists == () and editing.skip == {"members"}


# -- metadata for code that turns conditions into queries ---------------------------------


def test_attribute_columns_say_where_values_live() -> None:
    policy = load_policy([POLICY])
    project, invoice = policy.resources["project"], policy.resources["invoice"]
    members = attribute_column(project, "members")
    assert members is not None and members.to_many and members.lookup == "team"
    assert members.column is User._meta.pk
    owner = attribute_column(project, "owner")
    assert owner is not None and not owner.to_many and owner.lookup == "owner__pk"
    across = attribute_column(invoice, "project_owner")
    assert across is not None and across.lookup == "project__owner"
    assert across.column is User._meta.pk and not across.to_many
    team = attribute_column(invoice, "project_team")
    assert team is not None and team.to_many and team.lookup == "project__team"
    archived = attribute_column(project, "archived")
    assert archived is not None and archived.column is Project._meta.get_field("archived")
    # Not a database path: a property or a method.
    assert column_for(Project, "get_absolute_url") is None


# -- system checks --------------------------------------------------------------------------


@pytest.fixture
def policy_file(tmp_path: Path) -> Any:
    def write(attributes: str) -> list[tuple[str | None, str]]:
        path = tmp_path / "p.yaml"
        path.write_text(
            "version: 1\nresources:\n  project:\n    model: projectapp.Project\n"
            "    actions: [view]\n    attributes:\n"
            + "".join(f"      {line}\n" for line in attributes.strip().splitlines())
            + "rules:\n  - {id: r, effect: allow, subjects: [authenticated], actions: [view],"
            " resource: project}\n"
        )
        with override_settings(AUTHZGUARD_POLICY_PATHS=[path]):
            return [
                (m.id, m.msg)
                for m in check_enforcement()
                if (m.id or "").startswith(("authzguard.E06", "authzguard.W"))
                and m.id != "authzguard.W003"
            ]

    return write


def test_readable_paths_pass_the_checks(policy_file: Any) -> None:
    found = policy_file(
        """
members: {type: list, field: team}
invoices: {type: list, field: invoices}
owner: {type: key, field: owner}
owner_email: {type: str, field: owner.email}
owner_teams: {type: list, field: owner.team_projects}
owner_notes: {type: list, field: owner__note_set}
url: {type: str, field: get_absolute_url}
"""
    )
    assert found == []


@pytest.mark.parametrize(
    ("attributes", "check_id", "words"),
    [
        ("members: {type: key, field: team}", "authzguard.E061", "declared key"),
        ("members: {type: any, field: team}", "authzguard.E061", "declared any"),
        ("team: any", "authzguard.E061", "declared any"),
        ("bills: {type: str, field: invoices}", "authzguard.E061", "'invoices' is a to-many"),
        ("names: {type: list, field: team.username}", "authzguard.E062", "'team' is a to-many"),
        ("names: {type: list, field: invoices__amount}", "authzguard.E062", "'invoices'"),
        ("x: {type: str, field: nothing}", "authzguard.E060", "has no field 'nothing'"),
        ("x: {type: str, field: owner.nothing}", "authzguard.E060", "auth.User has no field"),
        ("x: {type: str, field: name.upper}", "authzguard.E060", "'name' is not a relation"),
    ],
)
def test_paths_that_can_never_be_read_are_errors(
    policy_file: Any, attributes: str, check_id: str, words: str
) -> None:
    [(found, message)] = policy_file(attributes)
    assert found == check_id and words in message, message
