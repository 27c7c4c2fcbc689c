"""The diverse decision workload of issue 11: a policy shaped like a large real one, and
requests from thousands of distinct role sets.

The policy (seeded, so every run writes the same files; documented in docs/performance.md):

* ``kinds`` resource kinds (200 at 10k rules, 20 at 1k: 50 rules per kind either way),
  each with the actions ``read``, ``list``, ``update``, ``delete`` (destructive) and
  ``export``, and the attributes ``owner`` (key), ``tenant``, ``status`` (str), ``level``
  (int), ``tags`` (list) and ``public`` (bool);
* 60 roles: ``admin`` (superusers), ``staff`` (staff), ``member`` (every signed-in user),
  ``suspended`` (a Django group; named by deny rules only) and ``role00``..``role55``
  (Django groups), about half of which inherit one or two roles defined before them;
* rule ``i`` goes to kind ``i % kinds`` and names one or two of its actions; about 12% are
  denies (a sixth of those unconditional, for ``anonymous`` or ``suspended``), about a fifth
  name ``*`` or ``authenticated``, and about four in five have a condition. An allow for
  ``*``/``authenticated`` on ``update`` or ``delete`` always carries an ownership condition.

It lints without errors (a few warnings remain): no rule names an undefined role, no allow is shadowed by an unconditional
deny (those name only subjects no allow names and no role inherits), and every broad allow
of a destructive action is tied to its owner.

The requests: ``request_pool`` draws ``n_role_sets`` distinct role sets of 0 to 3 roles
(seeded), then requests over them on random kinds, actions and attribute values.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import synthetic

ACTIONS = ("read", "list", "update", "delete", "export")
RISKY = frozenset({"update", "delete"})
RULES_PER_KIND = 50
TEAM_ROLES = 56
SPECIAL_ROLES = {"admin": "superuser", "staff": "staff", "member": "authenticated"}
#: Named only by unconditional denies: no allow names it and no role inherits it.
SUSPENDED = "suspended"
STATUSES = ("open", "draft", "locked", "archived", "private")
TENANTS = tuple(f"t{n}" for n in range(8))
TAGS = ("red", "green", "blue", "frozen", "vip", "beta")
SEED = 20261206


def kinds_for(n_rules: int) -> int:
    """Kinds at ``n_rules`` rules: the same rules per (kind, action) at every size."""
    return max(1, n_rules // RULES_PER_KIND)


def kind_name(k: int) -> str:
    return f"kind{k:03d}"


def team_roles() -> list[str]:
    return [f"role{t:02d}" for t in range(TEAM_ROLES)]


def grantable_roles() -> list[str]:
    """Every role a subject may hold (the 60 roles)."""
    return [*SPECIAL_ROLES, SUSPENDED, *team_roles()]


def base_yaml(n_kinds: int) -> str:
    rng = random.Random(SEED)
    lines = ["version: 1", "roles:"]
    for name, source in SPECIAL_ROLES.items():
        lines += [f"  {name}:", f"    granted_to: [{source}]"]
    lines += [f"  {SUSPENDED}:", "    granted_to: [{group: suspended}]"]
    inheritable = ["member", "staff"]
    for role in team_roles():
        lines += [f"  {role}:", f"    granted_to: [{{group: g-{role}}}]"]
        if len(inheritable) > 2 and rng.random() < 0.5:
            parents = rng.sample(inheritable, rng.choice((1, 2)))
            lines.append(f"    inherits: [{', '.join(parents)}]")
        inheritable.append(role)
    lines.append("resources:")
    for k in range(n_kinds):
        lines += [
            f"  {kind_name(k)}:",
            "    actions:",
            *(
                f"      {a}: {{destructive: true}}" if a == "delete" else f"      {a}: {{}}"
                for a in ACTIONS
            ),
            "    attributes:",
            "      owner: {type: key}",
            "      tenant: {type: str}",
            "      status: {type: str}",
            "      level: {type: int}",
            "      tags: {type: list}",
            "      public: {type: bool}",
        ]
    return "\n".join(lines) + "\n"


def _allow_condition(rng: random.Random, broad: bool, actions: list[str]) -> str | None:
    if broad and RISKY.intersection(actions):
        return rng.choice(
            (
                "resource.owner == subject.id",
                "resource.owner == subject.id and resource.status != 'locked'",
            )
        )
    pick = rng.randrange(8)
    if pick == 0 and not broad:
        return None
    return (
        "resource.owner == subject.id or resource.public == true",
        f"resource.tenant in ['{rng.choice(TENANTS)}', '{rng.choice(TENANTS)}']",
        f"resource.status == 'open' and resource.level in [{rng.randrange(3)}, {rng.randrange(3, 6)}]",
        f"'{rng.choice(TAGS)}' in resource.tags",
        "not (resource.status in ['locked', 'archived'])",
        "resource.owner == subject.id or resource.status != 'archived'",
        f"resource.tenant == '{rng.choice(TENANTS)}' and resource.public == false",
        "resource.owner == subject.id",
    )[pick]


def _deny_condition(rng: random.Random) -> str:
    return rng.choice(
        (
            "resource.status == 'locked'",
            f"resource.tenant == '{rng.choice(TENANTS)}' and resource.level in [4, 5]",
            "'frozen' in resource.tags",
            "resource.owner != subject.id and resource.status == 'private'",
        )
    )


def rule_yaml(i: int, n_kinds: int, rng: random.Random) -> str:
    kind = kind_name(i % n_kinds)
    actions = rng.sample(ACTIONS, rng.choice((1, 1, 2)))
    actions.sort(key=ACTIONS.index)
    roll = rng.random()
    if roll < 0.02:  # unconditional deny, for subjects no allow names
        effect, subjects, when = "deny", [rng.choice(("anonymous", SUSPENDED))], None
    elif roll < 0.12:
        effect, when = "deny", _deny_condition(rng)
        subjects = [rng.choice(("*", "authenticated"))] if rng.random() < 0.2 else _roles(rng)
    else:
        broad = rng.random() < 0.2
        subjects = [rng.choice(("*", "authenticated"))] if broad else _roles(rng)
        effect, when = "allow", _allow_condition(rng, broad, actions)
    quoted = ", ".join(f'"{s}"' if s == "*" else s for s in subjects)
    text = (
        f"  - id: d{i:05d}\n    effect: {effect}\n    subjects: [{quoted}]\n"
        f"    actions: [{', '.join(actions)}]\n    resource: {kind}\n"
    )
    return text + (f'    when: "{when}"\n' if when else "")


def _roles(rng: random.Random) -> list[str]:
    pool = [*SPECIAL_ROLES, *team_roles()]
    return rng.sample(pool, rng.choice((1, 1, 2)))


def write_policy(n_rules: int, directory: Path) -> list[Path]:
    """Write the ``n_rules`` diverse policy into ``directory``, split as the bench splits."""
    n_kinds = kinds_for(n_rules)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    files = [directory / "000-base.yaml"]
    files[0].write_text(base_yaml(n_kinds))
    rng = random.Random(SEED + 1)
    per_file = synthetic.RULES_PER_FILE
    for start in range(0, n_rules, per_file):
        chunk = [rule_yaml(i, n_kinds, rng) for i in range(start, min(n_rules, start + per_file))]
        path = directory / f"rules-{start // per_file:03d}.yaml"
        path.write_text("version: 1\nrules:\n" + "".join(chunk))
        files.append(path)
    return files


def policy_dir(n_rules: int) -> Path:
    return synthetic.RESULTS / "policies" / f"diverse-{n_rules}"


def role_sets(count: int, rng: random.Random) -> list[tuple[frozenset[str], bool]]:
    """``count`` distinct (roles, authenticated) pairs of 0 to 3 roles each."""
    roles = grantable_roles()
    found: set[tuple[frozenset[str], bool]] = {(frozenset(), False), (frozenset(), True)}
    while len(found) < count:
        size = rng.choice((1, 2, 2, 3, 3, 3))
        found.add((frozenset(rng.sample(roles, size)), True))
    return sorted(found, key=lambda pair: (len(pair[0]), sorted(pair[0]), pair[1]))


def request_pool(n_rules: int, n_requests: int, n_role_sets: int) -> list[tuple[Any, str, Any]]:
    """``n_requests`` seeded ``(Subject, action, Resource)`` requests over the policy's kinds."""
    from authzguard.policy.model import Resource, Subject

    rng = random.Random(SEED + 2)
    sets = role_sets(n_role_sets, rng)
    n_kinds = kinds_for(n_rules)
    pool = []
    for _ in range(n_requests):
        roles, authenticated = rng.choice(sets)
        uid = rng.randrange(1, 200) if authenticated else None
        subject = Subject(
            id=uid,
            username=f"u{uid}" if authenticated else None,
            roles=roles,
            authenticated=authenticated,
        )
        attributes = {
            "owner": uid if uid is not None and rng.random() < 0.3 else rng.randrange(1, 200),
            "tenant": rng.choice(TENANTS),
            "status": rng.choice(STATUSES),
            "level": rng.randrange(6),
            "tags": rng.sample(TAGS, rng.randrange(3)),
            "public": rng.random() < 0.3,
        }
        pool.append(
            (subject, rng.choice(ACTIONS), Resource(kind_name(rng.randrange(n_kinds)), attributes))
        )
    return pool
