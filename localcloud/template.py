"""CloudFormation intrinsic functions, resolved the way CloudFormation does for one stack in one region.

``Resolver`` turns a template fragment into plain values: ``Ref`` (parameters, pseudo parameters and
resources), ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub`` (string and list forms), ``Fn::Select``, ``Fn::Split``,
``Fn::If`` with the template's ``Conditions``, ``Fn::Base64`` and ``Fn::GetAZs``. Resource references resolve
to what the provisioner recorded for that resource, so a template is resolved resource by resource in
dependency order (``dependency_order``).
"""

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

NO_VALUE = object()  # AWS::NoValue: the property or list item is removed

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template uses something that cannot be resolved (unknown reference, bad intrinsic shape)."""


@dataclass
class Resolver:
    """Resolves intrinsic functions against the values known so far for one stack."""

    stack_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)  # the template's Conditions section, unevaluated
    refs: dict[str, Any] = field(default_factory=dict)  # logical id -> what Ref returns
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> GetAtt values
    _evaluated: dict[str, bool] = field(default_factory=dict)

    def pseudo(self, name: str) -> Any:
        values = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]

    def resolve(self, value: Any) -> Any:
        """The fragment with every intrinsic function replaced by its value; AWS::NoValue entries removed."""
        if isinstance(value, list):
            items = (self.resolve(item) for item in value)
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def condition(self, name: str) -> bool:
        """The value of one named condition of the template."""
        if name not in self._evaluated:
            if name not in self.conditions:
                raise TemplateError(f"unknown condition {name}")
            self._evaluated[name] = bool(self.resolve(self.conditions[name]))
        return self._evaluated[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref to {name}, which is neither a parameter nor a resource created so far")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        values = self.attributes.get(logical_id)
        if values is None:
            raise TemplateError(f"Fn::GetAtt on {logical_id}, which is not a resource created so far")
        if attribute not in values:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not supported locally")
        return values[attribute]

    def _intrinsic(self, key: str, argument: Any) -> Any:
        if key == "Ref":
            return self.ref(argument)
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self.get_att(logical_id, self.resolve(attribute))
        if key == "Fn::Join":
            delimiter, items = argument
            return self.resolve(delimiter).join(str(item) for item in self.resolve(items))
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if key == "Fn::Split":
            delimiter, text = self.resolve(argument)
            return text.split(delimiter)
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = self.resolve(argument)
            return left == right
        if key == "Fn::Not":
            return not self.resolve(argument[0])
        if key == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if key == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if key == "Fn::Base64":
            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{REGION}{zone}" for zone in "abc"]
        raise TemplateError(f"intrinsic function {key} is not supported locally")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        # NOTE: "${!Literal}" is Fn::Sub's escape for a literal "${Literal}".
        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def references(fragment: Any) -> Iterator[str]:
    """Every logical id that a fragment names through Ref, Fn::GetAtt or a Fn::Sub variable."""
    if isinstance(fragment, list):
        for item in fragment:
            yield from references(item)
    elif isinstance(fragment, dict):
        for key, value in fragment.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value.split(".", 1)[0] if isinstance(value, str) else value[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                local = set() if isinstance(value, str) else set(value[1])
                for name in _SUB_VARIABLE.findall(text):
                    if name not in local:
                        yield name.split(".", 1)[0]
                yield from references(value if isinstance(value, str) else value[1])
            else:
                yield from references(value)


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids so that each resource comes after everything it references or DependsOn."""
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        named = set(references(resource.get("Properties", {}))) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        graph[logical_id] = {name for name in named if name in resources}
    return list(TopologicalSorter(graph).static_order())
