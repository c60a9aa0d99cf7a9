"""Reads a CDK cloud assembly (cdk.out): the stack's template and where each file asset lives on disk.

The template names assets by their published S3 object key (``<hash>.zip`` for a Lambda's code,
``<hash>.json`` for a file); the ``*.assets.json`` manifest maps each key back to its source in cdk.out,
so the local cloud runs exactly what synth produced.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class AssemblyError(Exception):
    """The cloud assembly is missing, or holds no stack the local cloud can run."""


@dataclass(frozen=True)
class Stack:
    """One synthesized stack: its name, template, and its asset object keys mapped to paths on disk."""

    name: str
    template: dict[str, Any]
    assets: dict[str, Path] = field(default_factory=dict)

    def asset_path(self, object_key: str) -> Path:
        """The file or directory in cdk.out that was published as ``object_key``."""
        if object_key not in self.assets:
            raise AssemblyError(f"no asset in the cloud assembly is published as {object_key}")
        return self.assets[object_key]


def load_stack(directory: Path, stack_name: str | None = None) -> Stack:
    """The stack (the only one, or the one named) of the cloud assembly in ``directory``."""
    directory = directory.resolve()  # asset paths become the functions' working directories
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"{manifest_path} not found: synthesize the CDK app first (bin/setup)")
    manifest = json.loads(manifest_path.read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    if stack_name is not None:
        stacks = {name: artifact for name, artifact in stacks.items() if name == stack_name}
    if len(stacks) != 1:
        raise AssemblyError(f"expected one stack in {manifest_path}, found {sorted(stacks) or 'none'}")
    (name, artifact), *_ = stacks.items()
    properties = artifact.get("properties", {})
    template = json.loads((directory / properties.get("templateFile", f"{name}.template.json")).read_text())
    assets: dict[str, Path] = {}
    for dependency in artifact.get("dependencies", []):
        dependency_artifact = manifest["artifacts"].get(dependency, {})
        if dependency_artifact.get("type") == "cdk:asset-manifest":
            assets |= _file_assets(directory / dependency_artifact["properties"]["file"], directory)
    return Stack(name=properties.get("stackName", name), template=template, assets=assets)


def _file_assets(assets_manifest: Path, directory: Path) -> dict[str, Path]:
    assets: dict[str, Path] = {}
    for asset in json.loads(assets_manifest.read_text()).get("files", {}).values():
        source = directory / asset["source"]["path"]
        for destination in asset.get("destinations", {}).values():
            assets[destination["objectKey"]] = source
    return assets
