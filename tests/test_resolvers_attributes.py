"""Reading a target's attributes: the per-class readers answer as ``read_attribute`` does."""

from __future__ import annotations

from operator import attrgetter
from types import MappingProxyType

import pytest
from django.contrib.auth.models import User

from authzguard.policy.model import Attribute, ResourceKind
from authzguard.resolvers import attribute_reader, read_attribute, resource_attributes
from tests.testapp.models import Note, TitledNote

pytestmark = pytest.mark.django_db

PATHS = [
    "pk",
    "id",
    "title",
    "slug",
    "token",
    "owner",  # a relation: its primary key
    "owner_id",
    "owner.pk",
    "owner__username",
    "owner.email",
    "missing",  # absent
    "save",  # a method is not an attribute
    "owner.get_username",
]


@pytest.fixture
def note() -> Note:
    owner = User.objects.create_user("ann", "ann@example.com", "pw")
    return Note.objects.create(owner=owner, slug="s", title="T")


@pytest.mark.parametrize("path", PATHS)
def test_reader_equals_read_attribute(note: Note, path: str) -> None:
    fresh = Note.objects.select_related("owner").get(pk=note.pk)
    assert attribute_reader(Note, path)(fresh) == read_attribute(fresh, path)


def test_plain_fields_and_the_key_are_read_directly() -> None:
    for path in ("pk", "id", "title", "token", "owner", "owner_id", "owner.pk", "owner__id"):
        assert isinstance(attribute_reader(Note, path), attrgetter), path
    for path in ("owner.username", "owner.pk.real", "missing", "save"):
        assert not isinstance(attribute_reader(Note, path), attrgetter), path


def test_a_deferred_field_is_loaded_as_django_loads_it(note: Note) -> None:
    partial = Note.objects.only("id").get(pk=note.pk)
    assert attribute_reader(Note, "title")(partial) == "T"


def test_objects_that_are_not_models_use_the_general_path() -> None:
    class Plain:
        owner = 5

        def method(self) -> int:
            return 1

    obj = Plain()
    assert attribute_reader(Plain, "owner")(obj) == 5
    assert attribute_reader(Plain, "method")(obj) is None


def test_resource_attributes_are_read_only(note: Note) -> None:
    kind = ResourceKind(
        "note",
        model="testapp.Note",
        attributes={
            "owner": Attribute("owner", "key"),
            "title": Attribute("title", "str"),
            "author": Attribute("author", "str", field="owner.username"),
        },
    )
    attrs = resource_attributes(Note.objects.select_related("owner").get(pk=note.pk), kind)
    assert isinstance(attrs, MappingProxyType)
    assert dict(attrs) == {"owner": note.owner_id, "title": "T", "author": "ann"}
    assert dict(resource_attributes(None, kind)) == {}


def test_a_property_shadowing_a_field_is_read_like_any_attribute(note: Note) -> None:
    obj = TitledNote.objects.get(pk=note.pk)
    assert not isinstance(attribute_reader(TitledNote, "title"), attrgetter)
    expected = "shadowed T"
    assert attribute_reader(TitledNote, "title")(obj) == read_attribute(obj, "title") == expected
