"""The stack, synthesized once per session exactly as app.py builds it, and its template."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# jsii runs on the pinned Node 22; it is found on PATH when aws_cdk is first imported, so this comes first.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"

from aws_cdk import App  # noqa: E402 - needs the PATH above
from aws_cdk.assertions import Template  # noqa: E402 - same as above
from infra_support import CONTEXT, Synthesized  # noqa: E402 - same as above

from workflow.build import build  # noqa: E402 - same as above


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Synthesize the app once; ``app.synth()`` also runs cdk-nag, which fails on an unacknowledged finding."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(context=CONTEXT, outdir=str(outdir))
    stack = build(app)

    app.synth()

    template = Template.from_stack(stack)
    return Synthesized(stack=stack, template=template, json=template.to_json(), outdir=outdir)
