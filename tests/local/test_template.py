"""The intrinsic function resolver: each function resolved as CloudFormation documents it."""

import pytest

from localcloud.template import Resolver, TemplateError, dependency_order, references


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        stack_name="RestaurantBooking",
        parameters={"Stage": "prod"},
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsTest": {"Fn::Not": [{"Condition": "IsProd"}]},
            "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Or": [{"Condition": "IsTest"}, True]}]},
        },
        refs={"Api": "abc123", "Table": "RestaurantBooking-Table"},
        attributes={"Table": {"Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/RestaurantBooking-Table"}},
    )


@pytest.mark.parametrize(
    ("pseudo", "expected"),
    [
        ("AWS::Region", "us-east-1"),
        ("AWS::AccountId", "123456789012"),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", "RestaurantBooking"),
    ],
)
def test_resolver_ref_pseudo_parameter(resolver: Resolver, pseudo: str, expected: str) -> None:
    # Given a Ref to a pseudo parameter
    fragment = {"Ref": pseudo}

    # When it is resolved
    value = resolver.resolve(fragment)

    # Then it has the local cloud's fixed value
    assert value == expected


def test_resolver_ref_and_get_att_give_recorded_values(resolver: Resolver) -> None:
    # Given references to a parameter, a resource and a resource attribute (both GetAtt forms)
    fragment = {
        "stage": {"Ref": "Stage"},
        "table": {"Ref": "Table"},
        "arn": {"Fn::GetAtt": ["Table", "Arn"]},
        "dotted": {"Fn::GetAtt": "Table.Arn"},
    }

    # When they are resolved
    value = resolver.resolve(fragment)

    # Then each gives what was recorded for it
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/RestaurantBooking-Table"
    assert value == {"stage": "prod", "table": "RestaurantBooking-Table", "arn": arn, "dotted": arn}


def test_resolver_join_builds_the_api_url_as_cdk_emits_it(resolver: Resolver) -> None:
    # Given the Fn::Join CDK emits for a REST API's URL
    fragment = {
        "Fn::Join": [
            "",
            ["https://", {"Ref": "Api"}, ".execute-api.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}, "/"],
        ]
    }

    # When it is resolved
    value = resolver.resolve(fragment)

    # Then the pieces are joined
    assert value == "https://abc123.execute-api.us-east-1.amazonaws.com/"


def test_resolver_sub_string_form_resolves_refs_attributes_and_escapes(resolver: Resolver) -> None:
    # Given Fn::Sub with a pseudo parameter, a resource, an attribute and an escaped literal
    fragment = {"Fn::Sub": "${AWS::Region}/${Table}/${Table.Arn}/${!Literal}"}

    # When it is resolved
    value = resolver.resolve(fragment)

    # Then variables are replaced and the escape gives the literal back
    assert value == (
        "us-east-1/RestaurantBooking-Table/arn:aws:dynamodb:us-east-1:123456789012:table/RestaurantBooking-Table"
        "/${Literal}"
    )


def test_resolver_sub_list_form_uses_its_own_variables_first(resolver: Resolver) -> None:
    # Given Fn::Sub with a variable map that shadows a resource name
    fragment = {"Fn::Sub": ["${Table}-${Extra}", {"Table": "shadowed", "Extra": {"Ref": "Stage"}}]}

    # When it is resolved
    value = resolver.resolve(fragment)

    # Then the map's values win
    assert value == "shadowed-prod"


def test_resolver_select_and_split(resolver: Resolver) -> None:
    # Given Fn::Select over Fn::Split of a resolved ARN
    fragment = {"Fn::Select": [5, {"Fn::Split": [":", {"Fn::GetAtt": ["Table", "Arn"]}]}]}

    # When it is resolved
    value = resolver.resolve(fragment)

    # Then the chosen piece comes back
    assert value == "table/RestaurantBooking-Table"


def test_resolver_conditions_and_if_with_no_value(resolver: Resolver) -> None:
    # Given Fn::If on conditions built from Fn::Equals, Fn::Not, Fn::And and Fn::Or, one giving AWS::NoValue
    fragment = {
        "prod": {"Fn::If": ["IsProd", "yes", "no"]},
        "test": {"Fn::If": ["IsTest", "yes", {"Ref": "AWS::NoValue"}]},
        "both": {"Fn::If": ["Both", 1, 0]},
        "items": ["kept", {"Fn::If": ["IsTest", "dropped", {"Ref": "AWS::NoValue"}]}],
    }

    # When it is resolved
    value = resolver.resolve(fragment)

    # Then the branches follow the conditions and AWS::NoValue removes the key and the list item
    assert value == {"prod": "yes", "both": 1, "items": ["kept"]}


def test_resolver_unknown_reference_fails_with_its_name(resolver: Resolver) -> None:
    # Given a Ref to something that does not exist
    fragment = {"Ref": "Missing"}

    # When it is resolved, then the error names it
    with pytest.raises(TemplateError, match="Missing"):
        resolver.resolve(fragment)


def test_references_finds_ref_get_att_and_sub_variables() -> None:
    # Given a fragment naming resources in every way
    fragment = {
        "a": {"Ref": "Table"},
        "b": {"Fn::GetAtt": ["Role", "Arn"]},
        "c": {"Fn::Sub": ["${Queue.Arn}-${Local}-${AWS::Region}", {"Local": {"Ref": "Bus"}}]},
    }

    # When its references are listed
    found = set(references(fragment))

    # Then every resource is found, but not the Sub's own variable
    assert found == {"Table", "Role", "Queue", "Bus", "AWS::Region"}


def test_dependency_order_puts_each_resource_after_what_it_uses() -> None:
    # Given a function that uses a role and a table, a mapping that uses both, and an explicit DependsOn
    resources = {
        "Mapping": {"Properties": {"F": {"Ref": "Function"}, "S": {"Fn::GetAtt": ["Table", "StreamArn"]}}},
        "Function": {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}, "DependsOn": ["Policy"]},
        "Policy": {"Properties": {"Roles": [{"Ref": "Role"}]}},
        "Role": {"Properties": {}},
        "Table": {"Properties": {}},
    }

    # When they are ordered
    order = dependency_order(resources)

    # Then every resource comes after its dependencies
    position = {name: index for index, name in enumerate(order)}
    assert position["Role"] < position["Policy"] < position["Function"] < position["Mapping"]
    assert position["Table"] < position["Mapping"]
