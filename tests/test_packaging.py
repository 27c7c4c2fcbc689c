"""What the installed distribution says about itself: one version, an SPDX licence, shipped."""

from __future__ import annotations

from importlib import metadata

import authzguard


def test_the_distribution_takes_its_version_from_the_package() -> None:
    assert metadata.version("authzguard") == authzguard.__version__


def test_the_licence_is_an_spdx_expression_and_its_file_ships() -> None:
    distribution = metadata.distribution("authzguard")
    assert distribution.metadata["License-Expression"] == "MIT"
    assert distribution.metadata.get_all("License-File") == ["LICENSE"]
    assert "License" not in distribution.metadata  # the deprecated free-text field
