"""The local AWS emulator for kmsrot: moto server, with documented fidelity patches.

moto differs from AWS in places kmsrot cares about. Each patch below makes moto behave as the
AWS documentation says, quotes that sentence, and is pinned by its own test in
crates/kmsrot-testsuite/tests/it/emulator.rs. A patch never makes moto agree with kmsrot where
AWS would not.

Run it through `cargo xtask emulator` (or `cargo xtask test`, which starts and stops it); only
xtask starts the emulator.

Usage: python kmsrot_emulator.py [--host 127.0.0.1] [--port 5000] [--seed-alias ALIAS]
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import os
import sys
import threading
import time
from urllib.parse import parse_qs, unquote, urlparse
from typing import Any, Callable

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.exceptions import ValidationError as StackValidationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import unix_time
from moto.kms import models as kms_models
from moto.kms.exceptions import ValidationException
from moto.kms.responses import KmsResponse
from moto.kms.utils import _deserialize_ciphertext_blob
from moto.s3 import exceptions as s3_exceptions
from moto.s3.responses import S3Response


class DisabledException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("DisabledException", message)


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("KMSInvalidStateException", message)


class KMSInvalidSignatureException(JsonRESTError):
    code = 400

    def __init__(self) -> None:
        super().__init__("KMSInvalidSignatureException", "")


# ---------------------------------------------------------------------------------------------
# Patch 1: cryptographic operations refuse disabled keys and keys pending deletion.
#
# AWS, DisableKey: "Sets the state of a KMS key to disabled. This change temporarily prevents
# use of the KMS key for cryptographic operations."
# AWS, Encrypt/Decrypt/Sign/... errors: "DisabledException: The request was rejected because
# the specified KMS key is not enabled." and "KMSInvalidStateException: The request was
# rejected because the state of the specified resource is not valid for this request."
# AWS, Key states of AWS KMS keys: a key in the PendingDeletion state cannot be used in
# cryptographic operations ("X" in the key state table).
#
# moto 5.2 encrypts, decrypts, signs and MACs with keys in any state.
# ---------------------------------------------------------------------------------------------

KmsBackend = kms_models.KmsBackend


def _require_usable(backend: Any, key_id: str | None) -> None:
    if not key_id:
        return
    try:
        key = backend.keys.get(backend.any_id_to_key_id(key_id))
    except Exception:  # an unknown alias: moto's own NotFoundException follows
        return
    if key is None:
        return
    if key.key_state == "Disabled":
        raise DisabledException(f"{key.arn} is disabled.")
    if key.key_state in ("PendingDeletion", "PendingReplicaDeletion"):
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")
    if key.key_state != "Enabled":
        raise KMSInvalidStateException(f"{key.arn} is {key.key_state}.")


def _key_from_ciphertext(blob: bytes) -> str | None:
    try:
        return _deserialize_ciphertext_blob(ciphertext_blob=blob).key_id
    except Exception:  # a malformed blob: moto's own InvalidCiphertextException follows
        return None


def _guard(method_name: str, key_of: Callable[..., str | None]) -> None:
    original = getattr(KmsBackend, method_name)

    @functools.wraps(original)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        _require_usable(self, key_of(*args, **kwargs))
        return original(self, *args, **kwargs)

    setattr(KmsBackend, method_name, guarded)


def _arg(name: str, position: int) -> Callable[..., str | None]:
    def key_of(*args: Any, **kwargs: Any) -> str | None:
        if name in kwargs:
            return kwargs[name]
        return args[position] if len(args) > position else None

    return key_of


def _ciphertext_key(*args: Any, **kwargs: Any) -> str | None:
    blob = kwargs.get("ciphertext_blob", args[0] if args else None)
    return _key_from_ciphertext(blob) if blob else None


# GenerateDataKey and ReEncrypt go through encrypt and decrypt, and VerifyMac through
# generate_mac, so these cover every cryptographic operation moto implements.
_guard("encrypt", _arg("key_id", 0))
_guard("decrypt", _ciphertext_key)
_guard("sign", _arg("key_id", 0))
_guard("verify", _arg("key_id", 0))
_guard("generate_mac", _arg("key_id", 1))
_guard("get_public_key", _arg("key_id", 0))


# ---------------------------------------------------------------------------------------------
# Patch 2: CreateKey without KeyUsage creates an ENCRYPT_DECRYPT key.
#
# AWS, CreateKey, KeyUsage: "The default value is ENCRYPT_DECRYPT."
#
# moto 5.2 stores no usage at all, and DescribeKey then omits KeyUsage.
# ---------------------------------------------------------------------------------------------

_original_create_key = KmsBackend.create_key


@functools.wraps(_original_create_key)
def _create_key(self: Any, policy: Any, key_usage: Any, key_spec: Any, *args: Any, **kwargs: Any) -> Any:
    # AWS: "This parameter is optional when you are creating a symmetric encryption KMS key;
    # otherwise, it is required." Only the symmetric default is filled in.
    if not key_usage and key_spec in (None, "", "SYMMETRIC_DEFAULT"):
        key_usage = "ENCRYPT_DECRYPT"
    return _original_create_key(self, policy, key_usage, key_spec, *args, **kwargs)


KmsBackend.create_key = _create_key


# ---------------------------------------------------------------------------------------------
# Patch 3: Verify fails with KMSInvalidSignatureException when the signature does not verify.
#
# AWS, Verify: "If the signature is verified, the value of the SignatureValid field in the
# response is True. If the signature verification fails, the Verify operation fails with an
# KMSInvalidSignatureException exception."
#
# moto 5.2 answers HTTP 200 with SignatureValid false.
# ---------------------------------------------------------------------------------------------

_original_verify = KmsBackend.verify


@functools.wraps(_original_verify)
def _verify(self: Any, *args: Any, **kwargs: Any) -> Any:
    key_arn, valid, algorithm = _original_verify(self, *args, **kwargs)
    if not valid:
        raise KMSInvalidSignatureException()
    return key_arn, valid, algorithm


KmsBackend.verify = _verify


# ---------------------------------------------------------------------------------------------
# Patch 4: key-state operations accept a key ARN.
#
# AWS, DisableKey, EnableKey, ScheduleKeyDeletion and CancelKeyDeletion, KeyId: "Specify the
# key ID or key ARN of the KMS key."
#
# moto 5.2 looks the value up as a raw key ID and fails with HTTP 500 (KeyError) for an ARN.
# ---------------------------------------------------------------------------------------------


def _accept_key_arn(method_name: str) -> None:
    original = getattr(KmsBackend, method_name)

    @functools.wraps(original)
    def normalized(self: Any, key_id: str, *args: Any, **kwargs: Any) -> Any:
        return original(self, self.get_key_id(key_id), *args, **kwargs)

    setattr(KmsBackend, method_name, normalized)


for _name in ("disable_key", "enable_key", "schedule_key_deletion", "cancel_key_deletion"):
    _accept_key_arn(_name)


# ---------------------------------------------------------------------------------------------
# Patch 5: Decrypt with a KeyId that did not encrypt the ciphertext fails with
# IncorrectKeyException.
#
# AWS, Decrypt errors: "IncorrectKeyException: The request was rejected because the specified
# KMS key cannot decrypt the data. The KeyId in a Decrypt request and the SourceKeyId in a
# ReEncrypt request must identify the same KMS key that was used to encrypt the ciphertext."
#
# moto 5.2 answers AccessDeniedException.
# ---------------------------------------------------------------------------------------------


class IncorrectKeyException(JsonRESTError):
    code = 400

    def __init__(self) -> None:
        super().__init__(
            "IncorrectKeyException",
            "The key ID in the request does not identify a CMK that can perform this operation.",
        )


_original_decrypt = KmsBackend.decrypt


@functools.wraps(_original_decrypt)
def _decrypt(self: Any, ciphertext_blob: bytes, *args: Any, **kwargs: Any) -> Any:
    key_id = kwargs.get("key_id", args[1] if len(args) > 1 else None)
    actual = _key_from_ciphertext(ciphertext_blob)
    if key_id and actual:
        try:
            requested = self.any_id_to_key_id(key_id)
        except Exception:  # an unknown alias: moto's own NotFoundException follows
            requested = None
        if requested and requested in self.keys and requested != actual:
            raise IncorrectKeyException()
    return _original_decrypt(self, ciphertext_blob, *args, **kwargs)


KmsBackend.decrypt = _decrypt


# ---------------------------------------------------------------------------------------------
# Patch 6: EnableKeyRotation keeps RotationPeriodInDays, and GetKeyRotationStatus reports it
# with NextRotationDate.
#
# AWS, EnableKeyRotation, RotationPeriodInDays: "Use this parameter to specify a custom period of
# time between each rotation date. If no value is specified, the default value is 365 days."
# "The rotation period defines the number of days after you enable automatic key rotation that
# KMS will rotate your key material, and the number of days between each automatic rotation
# thereafter." Valid range: minimum value of 90, maximum value of 2560.
# AWS, GetKeyRotationStatus response: "RotationPeriodInDays: The number of days between each
# automatic rotation. The default value is 365 days." and "NextRotationDate: The next date that
# KMS will automatically rotate the key material."
#
# moto 5.2 ignores RotationPeriodInDays (any value, out of range too), and GetKeyRotationStatus
# answers only KeyRotationEnabled. moto already takes a key ARN in EnableKeyRotation,
# DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand and ListKeyRotations.
# ---------------------------------------------------------------------------------------------

_DEFAULT_ROTATION_PERIOD_DAYS = 365
_SECONDS_PER_DAY = 24 * 60 * 60


def _rotation_period_out_of_range(period: int) -> ValidationException | None:
    if period < 90:
        bound = "greater than or equal to 90"
    elif period > 2560:
        bound = "less than or equal to 2560"
    else:
        return None
    return ValidationException(
        f"1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to "
        f"satisfy constraint: Member must have value {bound}"
    )


_original_enable_key_rotation = KmsResponse.enable_key_rotation


@functools.wraps(_original_enable_key_rotation)
def _enable_key_rotation(self: Any) -> str:
    period = self._get_param("RotationPeriodInDays")
    if period is not None:
        error = _rotation_period_out_of_range(period)
        if error is not None:
            raise error
    answer = _original_enable_key_rotation(self)  # validates the key, accepts a key ARN
    key = self.kms_backend.keys[self.kms_backend.get_key_id(self._get_param("KeyId"))]
    key.kmsrot_rotation_period_days = period or _DEFAULT_ROTATION_PERIOD_DAYS
    key.kmsrot_rotation_enabled_at = unix_time()
    return answer


_original_get_key_rotation_status = KmsResponse.get_key_rotation_status


@functools.wraps(_original_get_key_rotation_status)
def _get_key_rotation_status(self: Any) -> str:
    body = json.loads(_original_get_key_rotation_status(self))
    if body.get("KeyRotationEnabled"):
        key = self.kms_backend.keys[self.kms_backend.get_key_id(self._get_param("KeyId"))]
        period = getattr(key, "kmsrot_rotation_period_days", _DEFAULT_ROTATION_PERIOD_DAYS)
        # A key created with rotation on (CloudFormation) counts from its creation.
        since = getattr(key, "kmsrot_rotation_enabled_at", key.creation_date)
        body["RotationPeriodInDays"] = period
        body["NextRotationDate"] = since + period * _SECONDS_PER_DAY
    return json.dumps(body)


KmsResponse.enable_key_rotation = _enable_key_rotation
KmsResponse.get_key_rotation_status = _get_key_rotation_status


# ---------------------------------------------------------------------------------------------
# Patch 7: UpdateAlias refuses a key of another type or key usage.
#
# AWS, UpdateAlias: "The current and new KMS key must be the same type (both symmetric or both
# asymmetric or both HMAC), and they must have the same key usage."
#
# moto 5.2 moves the alias to any key.
# ---------------------------------------------------------------------------------------------


def _key_type(key_spec: str | None) -> str:
    if key_spec in (None, "", "SYMMETRIC_DEFAULT"):
        return "symmetric"
    if key_spec.startswith("HMAC_"):
        return "HMAC"
    return "asymmetric"


_original_update_alias = KmsBackend.update_alias


@functools.wraps(_original_update_alias)
def _update_alias(self: Any, target_key_id: str, alias_name: str) -> Any:
    new = self.keys.get(self.get_key_id(target_key_id))
    current = next((k for k in self.keys.values() if alias_name in k.aliases), None)
    if new is not None and current is not None:
        current_kind = (_key_type(current.key_spec), current.key_usage)
        new_kind = (_key_type(new.key_spec), new.key_usage)
        if current_kind != new_kind:
            raise ValidationException(
                f"{alias_name} refers to a key of type {current_kind[0]} and usage "
                f"{current_kind[1]}; {new.arn} has type {new_kind[0]} and usage {new_kind[1]}. "
                "The current and new KMS key must be the same type and have the same key usage."
            )
    return _original_update_alias(self, target_key_id, alias_name)


KmsBackend.update_alias = _update_alias


# ---------------------------------------------------------------------------------------------
# Patch 8: AWS::KMS::Key in a CloudFormation stack takes its properties in the forms AWS
# documents.
#
# AWS, AWS::KMS::Key (CloudFormation template reference):
#   Tags: "Assigns one or more tags to the replica key." (sic: the AWS::KMS::Key page says
#     "replica key" too); each Tag is {Key, Value}: "A key-value pair. A tag consists of a tag
#     key and a tag value."
#   KeyPolicy (Type: Json): "If you do not provide a key policy, KMS attaches a default key
#     policy to the KMS key."
#   KeySpec: "The default value, SYMMETRIC_DEFAULT, creates a KMS key with a 256-bit symmetric
#     key for encryption and decryption."
#   KeyUsage: "The default value is ENCRYPT_DECRYPT. This property is required for asymmetric
#     KMS keys and HMAC KMS keys."
#   Enabled: "When Enabled is true, the key state of the KMS key is Enabled. When Enabled is
#     false, the key state of the KMS key is Disabled. The default value is true."
#   EnableKeyRotation: "Enables automatic rotation of the key material for the specified KMS
#     key. By default, automatic key rotation is not enabled."
#   RotationPeriodInDays: "Specifies a custom period of time between each rotation date. If no
#     value is specified, the default value is 365 days." (Minimum 90, maximum 2560.)
#   PendingWindowInDays: "Enter a value between 7 and 30 days. The default value is 30 days."
#   Fn::GetAtt: Arn and KeyId.
#
# moto 5.2 creates every such key as SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT whatever KeySpec and
# KeyUsage say; answers HTTP 500 for Tags in the {Key, Value} form (it wants TagKey/TagValue) and
# for a template without KeyPolicy; stores a KeyPolicy object as is, after which DescribeKey
# answers HTTP 500 and GetKeyPolicy a JSON object where the API has a string; leaves a key with
# Enabled: false in the Enabled state (only the DescribeKey flag changes); ignores
# RotationPeriodInDays (GetKeyRotationStatus then reports 365) and PendingWindowInDays; and knows
# no Fn::GetAtt KeyId.
# ---------------------------------------------------------------------------------------------

Key = kms_models.Key

_DEFAULT_PENDING_WINDOW_DAYS = 30


def _cfn_bool(value: Any, default: bool) -> bool:
    """CloudFormation passes booleans from parameters and Fn::If as the strings true/false."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _cfn_int(name: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StackValidationError(message=f"Property {name}: '{value}' is not an integer")
    if not low <= number <= high:
        raise StackValidationError(
            message=f"Property {name}: {number} is out of range; it must be {low} to {high}"
        )
    return number


def _parameter_text(value: Any) -> str:
    """A stack parameter as CloudFormation takes it: a string, lists comma-separated."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _cfn_key_policy(policy: Any) -> str | None:
    """KeyPolicy is of type Json: a template gives it as an object or as a JSON string."""
    if policy is None or isinstance(policy, str):
        return policy
    return json.dumps(policy)


def _cfn_key_tags(tags: Any) -> list[dict[str, str]]:
    return [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags or []]


def _apply_key_settings(
    backend: Any, key: Any, properties: dict[str, Any], previous: dict[str, Any]
) -> None:
    """The settings CloudFormation applies after creating a key and on every update: rotation,
    key state, deletion window. A setting changes only when the template's value changed, as in
    AWS's resource handler (a key disabled outside the stack stays disabled)."""
    period = _cfn_int("RotationPeriodInDays", properties.get("RotationPeriodInDays"), 90, 2560)
    window = _cfn_int("PendingWindowInDays", properties.get("PendingWindowInDays"), 7, 30)
    rotation = _cfn_bool(properties.get("EnableKeyRotation"), False)
    enabled = _cfn_bool(properties.get("Enabled"), True)
    was_rotation = _cfn_bool(previous.get("EnableKeyRotation"), False)
    was_enabled = _cfn_bool(previous.get("Enabled"), True)
    was_period = _cfn_int("RotationPeriodInDays", previous.get("RotationPeriodInDays"), 90, 2560)

    if rotation != was_rotation or (rotation and period != was_period and previous):
        key.key_rotation_status = rotation
        if rotation:
            key.kmsrot_rotation_period_days = period or _DEFAULT_ROTATION_PERIOD_DAYS
            key.kmsrot_rotation_enabled_at = unix_time()
    key.kmsrot_pending_window_days = window or _DEFAULT_PENDING_WINDOW_DAYS
    if enabled != was_enabled:
        if not enabled and key.key_state == "Enabled":
            backend.disable_key(key.id)
        elif enabled and key.key_state == "Disabled":
            backend.enable_key(key.id)
    key.kmsrot_cfn_properties = dict(properties)


@classmethod  # type: ignore[misc]
def _key_from_cloudformation(
    cls: Any,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    backend = kms_models.kms_backends[account_id][region_name]
    properties = cloudformation_json.get("Properties") or {}
    key_spec = properties.get("KeySpec") or "SYMMETRIC_DEFAULT"
    key_usage = properties.get("KeyUsage")
    if not key_usage and key_spec != "SYMMETRIC_DEFAULT":
        raise StackValidationError(
            message=f"Property KeyUsage is required for a key with KeySpec {key_spec}"
        )
    # Range checks first, so that a refused template leaves no key behind.
    _cfn_int("RotationPeriodInDays", properties.get("RotationPeriodInDays"), 90, 2560)
    _cfn_int("PendingWindowInDays", properties.get("PendingWindowInDays"), 7, 30)
    key = backend.create_key(
        policy=_cfn_key_policy(properties.get("KeyPolicy")),
        key_usage=key_usage,
        key_spec=key_spec,
        description=properties.get("Description"),
        tags=_cfn_key_tags(properties.get("Tags")),
        multi_region=_cfn_bool(properties.get("MultiRegion"), False),
        origin=properties.get("Origin") or "AWS_KMS",
    )
    _apply_key_settings(backend, key, properties, previous={})
    return key


@classmethod  # type: ignore[misc]
def _key_has_cfn_attr(cls: Any, attr: str) -> bool:
    return attr in ("Arn", "KeyId")


_original_key_get_cfn_attribute = Key.get_cfn_attribute


@functools.wraps(_original_key_get_cfn_attribute)
def _key_get_cfn_attribute(self: Any, attribute_name: str) -> Any:
    if attribute_name == "KeyId":
        return self.id
    return _original_key_get_cfn_attribute(self, attribute_name)


Key.create_from_cloudformation_json = _key_from_cloudformation
Key.has_cfn_attr = _key_has_cfn_attr
Key.get_cfn_attribute = _key_get_cfn_attribute


# ---------------------------------------------------------------------------------------------
# Patch 9: a stack update changes an AWS::KMS::Key in place, and fails for a new KeySpec,
# KeyUsage, Origin or MultiRegion.
#
# AWS, AWS::KMS::Key: Description, Enabled, EnableKeyRotation, KeyPolicy, PendingWindowInDays,
# RotationPeriodInDays and Tags: "Update requires: No interruption". "If you change the value of
# the KeySpec, KeyUsage, Origin, or MultiRegion properties of an existing KMS key, the update
# request fails, regardless of the value of the UpdateReplacePolicy attribute."
#
# moto 5.2 has no update for AWS::KMS::Key: the key stays as it was and the stack loses the
# resource, so a Ref to it resolves to nothing (an AWS::KMS::Alias pointing at it then fails the
# update with HTTP 500).
#
# Tags follow AWS's resource handler (aws-cloudformation-resource-providers-kms, UpdateHandler):
# after an update the key carries exactly the template's tags; tags added outside the stack are
# removed.
# ---------------------------------------------------------------------------------------------


@classmethod  # type: ignore[misc]
def _update_key_from_cloudformation(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    backend = kms_models.kms_backends[account_id][region_name]
    key = original_resource
    properties = cloudformation_json.get("Properties") or {}
    key_spec = properties.get("KeySpec") or "SYMMETRIC_DEFAULT"
    fixed = {
        "KeySpec": (key.key_spec, key_spec),
        "KeyUsage": (key.key_usage, properties.get("KeyUsage") or key.key_usage),
        "Origin": (key.origin, properties.get("Origin") or "AWS_KMS"),
        "MultiRegion": (key.multi_region, _cfn_bool(properties.get("MultiRegion"), False)),
    }
    for name, (current, wanted) in fixed.items():
        if current != wanted:
            raise StackValidationError(
                message=f"You cannot change the {name} of {key.arn} ({current} to {wanted}): "
                "the KeySpec, KeyUsage, Origin and MultiRegion of a KMS key are fixed"
            )
    previous = getattr(key, "kmsrot_cfn_properties", {})
    _apply_key_settings(backend, key, properties, previous)
    key.description = properties.get("Description") or ""
    key.policy = _cfn_key_policy(properties.get("KeyPolicy")) or key.generate_default_policy()
    backend.tagger.delete_all_tags_for_resource(key.id)
    tags = _cfn_key_tags(properties.get("Tags"))
    if tags:
        backend.tagger.tag_resource(key.id, tags)
    return key


Key.update_from_cloudformation_json = _update_key_from_cloudformation


# ---------------------------------------------------------------------------------------------
# Patch 10: removing an AWS::KMS::Key from a stack schedules its deletion.
#
# AWS, AWS::KMS::Key, PendingWindowInDays: "When you remove a KMS key from a CloudFormation
# stack, KMS schedules the KMS key for deletion and starts the mandatory waiting period. The
# PendingWindowInDays property determines the length of waiting period." "The default value is
# 30 days."
#
# moto 5.2 deletes the key at once (DeleteStack, or an update that drops it): DescribeKey then
# answers NotFoundException.
# ---------------------------------------------------------------------------------------------


def _schedule_deletion_of_removed_key(self: Any, account_id: str, region_name: str) -> None:
    backend = kms_models.kms_backends[account_id][region_name]
    if self.id not in backend.keys:
        return
    if self.key_state in ("PendingDeletion", "PendingReplicaDeletion"):
        return  # AWS's handler counts a key already pending deletion as deleted
    window = getattr(self, "kmsrot_pending_window_days", _DEFAULT_PENDING_WINDOW_DAYS)
    backend.schedule_key_deletion(self.id, window)


Key.delete = _schedule_deletion_of_removed_key


# ---------------------------------------------------------------------------------------------
# Patch 11: ExecuteChangeSet gives the stack the change set's template: its Outputs, exports,
# Description and parameters; and it deletes the stack's other change sets.
#
# AWS, ExecuteChangeSet: "Updates a stack using the input information that was provided when the
# specified change set was created." "When you execute a change set, CloudFormation deletes all
# other change sets associated with the stack because they aren't valid for the updated stack."
# AWS, ExecuteChangeSet errors: "InvalidChangeSetStatus: The specified change set can't be used
# to update the stack. For example, the change set status might be CREATE_IN_PROGRESS, or the
# stack status might be UPDATE_IN_PROGRESS."
#
# moto 5.2 creates the resources of a CREATE change set but keeps the empty template the stack
# was reviewed with: DescribeStacks shows no Outputs and no Description, and no export is made.
# After an UPDATE change set, the stack keeps the Outputs, exports and parameters of its previous
# template. The other change sets stay, and a FAILED change set (patch 13) executes too.
# ---------------------------------------------------------------------------------------------

CloudFormationBackend = cfn_models.CloudFormationBackend


class ChangeSetNotFoundException(CloudFormationError):
    code = "ChangeSetNotFoundException"


class InvalidChangeSetStatusException(CloudFormationError):
    code = "InvalidChangeSetStatusException"


def _change_set_of(backend: Any, name_or_arn: str, stack_name: str | None) -> Any:
    """The change set named by ARN, or by name within the stack named by name or ID (patch 12)."""
    if name_or_arn in backend.change_sets:
        return backend.change_sets[name_or_arn]
    for change_set in list(backend.change_sets.values()):  # tests run in parallel
        if change_set.change_set_name != name_or_arn:
            continue
        if stack_name in (None, change_set.stack_name, change_set.stack_id):
            return change_set
    raise ChangeSetNotFoundException(f"ChangeSet [{name_or_arn}] does not exist")


_original_execute_change_set = CloudFormationBackend.execute_change_set


@functools.wraps(_original_execute_change_set)
def _execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = _change_set_of(self, change_set_name, stack_name)
    if change_set.execution_status != "AVAILABLE":
        raise InvalidChangeSetStatusException(
            f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
            f"[{change_set.status}]"
        )
    stack = self.stacks[change_set.stack_id]
    old_exports = [export.name for export in stack.exports]
    _original_execute_change_set(self, change_set.change_set_id, stack_name)

    stack.template = change_set.template
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    # As CreateStack keeps them: the parameters as sent (UsePreviousValue already resolved).
    stack.parameters = {k: _parameter_text(v) for k, v in change_set.parameters.items()}
    stack.output_map = stack._create_output_map()
    for name in old_exports:
        self.exports.pop(name, None)
    self._validate_export_uniqueness(stack)
    for export in stack.exports:
        self.exports[export.name] = export
    for arn, other in list(self.change_sets.items()):
        if other.stack_id == stack.stack_id and arn != change_set.change_set_id:
            self.change_sets.pop(arn, None)


CloudFormationBackend.execute_change_set = _execute_change_set


# ---------------------------------------------------------------------------------------------
# Patch 12: a change set given by name is the one of the stack given in StackName, and
# ListChangeSets lists the change sets of one stack.
#
# AWS, DescribeChangeSet, StackName: "If you specified the name of a change set, specify the
# stack name or ID (ARN) of the change set you want to describe." ExecuteChangeSet: "If you
# specified the name of a change set, specify the stack name or Amazon Resource Name (ARN) that's
# associated with the change set you want to execute." DeleteChangeSet: "If you specified the
# name of a change set to delete, specify the stack name or Amazon Resource Name (ARN) that's
# associated with it." ChangeSetNotFound: "The specified change set name or ID doesn't exit."
# (sic). AWS, ListChangeSets: "Returns the ID and status of each active change set for a stack."
#
# moto 5.2 ignores StackName: a change set name picks some change set of that name in the
# region, whichever stack it belongs to, and ListChangeSets lists every change set in the
# region. Two stacks whose deployments name their change sets alike then see each other's.
# ---------------------------------------------------------------------------------------------


def _describe_change_set(self: Any) -> ActionResult:
    backend = self.cloudformation_backend
    change_set = _change_set_of(
        backend, self._get_param("ChangeSetName"), self._get_param("StackName")
    )
    return ActionResult(change_set)


def _delete_change_set(self: Any) -> EmptyResult:
    backend = self.cloudformation_backend
    change_set = _change_set_of(
        backend, self._get_param("ChangeSetName"), self._get_param("StackName")
    )
    backend.change_sets.pop(change_set.change_set_id, None)
    return EmptyResult()


def _list_change_sets(self: Any) -> ActionResult:
    stack_name = self._get_param("StackName")
    change_sets = [
        change_set
        for change_set in list(self.cloudformation_backend.list_change_sets())
        if stack_name in (change_set.stack_name, change_set.stack_id)
    ]
    return ActionResult({"Summaries": change_sets})


CloudFormationResponse.describe_change_set = _describe_change_set
CloudFormationResponse.delete_change_set = _delete_change_set
CloudFormationResponse.list_change_sets = _list_change_sets


# ---------------------------------------------------------------------------------------------
# Patch 13: an UPDATE change set that changes nothing is created, with Status FAILED.
#
# AWS, CreateChangeSet: "If you create a change set for an existing stack, CloudFormation
# compares the stack's information with the information that you submit in the change set and
# lists the differences." "After the CreateChangeSet call successfully completes, CloudFormation
# starts creating the change set. To check the status of the change set or to review it, use
# the DescribeChangeSet action."
# AWS, DescribeChangeSet, StatusReason: "A description of the change set's status. For example,
# if your attempt to create a change set failed, CloudFormation shows the error message."
# For a change set without changes AWS reports Status FAILED, ExecutionStatus UNAVAILABLE and
# (usually; sometimes "No updates are to be performed.") the StatusReason "The submitted
# information didn't contain changes. Submit different information to create a change set."
#
# moto 5.2 answers CreateChangeSet itself with ValidationError "No updates are to be performed."
# (the UpdateStack answer) when the request names Parameters and nothing changed; it gives the
# FAILED change set only when the request names no Parameters.
# ---------------------------------------------------------------------------------------------

_NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a "
    "change set."
)

_original_create_change_set = CloudFormationResponse.create_change_set


@functools.wraps(_original_create_change_set)
def _create_change_set(self: Any) -> ActionResult:
    # The UpdateStack check ("No updates are to be performed.") does not apply to change sets.
    self._validate_different_update = lambda *args, **kwargs: None
    answer = _original_create_change_set(self)
    if self._get_param("ChangeSetType", "CREATE") != "UPDATE":
        return answer
    backend = self.cloudformation_backend
    change_set = backend.change_sets[answer.result["Id"]]
    stack = backend.stacks[change_set.stack_id]
    new_template = change_set.template_dict
    wanted = {
        name: slot.get("Default")
        for name, slot in (new_template.get("Parameters") or {}).items()
    }
    wanted.update(change_set.parameters)
    current = stack.resource_map.resolved_parameters
    unchanged = (
        stack.has_template(change_set.template)
        and wanted.keys() == current.keys()
        and all(_parameter_text(wanted[k]) == _parameter_text(current[k]) for k in wanted)
    )
    if unchanged:
        change_set.status = "FAILED"
        change_set.execution_status = "UNAVAILABLE"
        change_set.status_reason = _NO_CHANGES
    elif change_set.status_reason == _NO_CHANGES:  # moto's own check, on other grounds
        change_set.status = "CREATE_COMPLETE"
        change_set.execution_status = "AVAILABLE"
        change_set.status_reason = None
    return answer


CloudFormationResponse.create_change_set = _create_change_set


# ---------------------------------------------------------------------------------------------
# Patch 14: a stack update that gives an AWS::KMS::Alias a new AliasName replaces the alias.
#
# AWS, AWS::KMS::Alias, AliasName: "If you change the value of the AliasName property, the
# existing alias is deleted and a new alias is created for the specified KMS key."
#
# moto 5.2 looks the new name up as an existing alias and fails the update with HTTP 500.
# ---------------------------------------------------------------------------------------------

Alias = kms_models.Alias

_original_update_alias_from_cloudformation = Alias.update_from_cloudformation_json.__func__


@classmethod  # type: ignore[misc]
def _update_alias_from_cloudformation(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json["Properties"]
    if properties["AliasName"] == original_resource.alias_name:
        return _original_update_alias_from_cloudformation(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
    backend = kms_models.kms_backends[account_id][region_name]
    alias = backend.create_alias(properties["TargetKeyId"], properties["AliasName"])
    backend.delete_alias(original_resource.alias_name)
    return alias


Alias.update_from_cloudformation_json = _update_alias_from_cloudformation


# ---------------------------------------------------------------------------------------------
# Patch 15: a stack update (UpdateStack or an UPDATE change set) updates the resources whose
# properties depend on a changed parameter, through Fn::Sub or a condition as well as Ref, and
# the change set lists them.
#
# AWS, CreateChangeSet: "If you create a change set for an existing stack, CloudFormation
# compares the stack's information with the information that you submit in the change set and
# lists the differences." AWS, Fn::Sub: "The intrinsic function Fn::Sub substitutes variables
# in an input string with values that you specify." AWS, Fn::If: "Returns one value if the
# specified condition evaluates to true and another value if the specified condition evaluates
# to false."
#
# moto 5.2 updates a resource whose template text is unchanged only if it names a changed
# parameter with Ref, and only when executing: a resource that uses the parameter through
# Fn::Sub or Fn::If keeps its old properties after UPDATE_COMPLETE, and DescribeChangeSet lists
# no change for any of them. (Resources of a type moto cannot update are left alone, as before;
# a resource whose own Condition flips is not created or deleted: see README.)
# ---------------------------------------------------------------------------------------------

ResourceMap = cfn_parsing.ResourceMap


def _mentions(node: Any, parameters: set[str], conditions: set[str]) -> bool:
    """Whether a template fragment uses one of these parameters or conditions."""
    if isinstance(node, dict):
        for name, value in node.items():
            # A resource's `Condition` names a condition; an IAM statement's `Condition` is a
            # block of its own (a mapping), searched below like any other value.
            if name == "Ref" and isinstance(value, str):
                if value in parameters:
                    return True
                continue
            if name == "Condition" and isinstance(value, str):
                if value in conditions:
                    return True
                continue
            if (
                name == "Fn::If"
                and isinstance(value, list)
                and value
                and isinstance(value[0], str)
                and value[0] in conditions
            ):
                return True
            if name == "Fn::Sub":
                text = value[0] if isinstance(value, list) and value else value
                if isinstance(text, str) and any("${" + p + "}" in text for p in parameters):
                    return True
            if _mentions(value, parameters, conditions):
                return True
    elif isinstance(node, list):
        return any(_mentions(item, parameters, conditions) for item in node)
    return False


def _changed_parameters(
    resource_map: Any, template: dict[str, Any], parameters: dict[str, Any]
) -> set[str]:
    slots = template.get("Parameters") or {}
    wanted = {name: (slot or {}).get("Default") for name, slot in slots.items()}
    wanted.update({k: v for k, v in parameters.items() if k in wanted})
    current = resource_map.resolved_parameters
    return {
        name
        for name, value in wanted.items()
        if name not in current or _parameter_text(value) != _parameter_text(current[name])
    }


def _updatable(resource_json: dict[str, Any]) -> bool:
    resource_class = cfn_parsing.resource_class_from_type(resource_json.get("Type", ""))
    return resource_class is not None and not hasattr(
        resource_class.update_from_cloudformation_json, "__isabstractmethod__"
    )


_original_build_resource_diff = ResourceMap.build_resource_diff


@functools.wraps(_original_build_resource_diff)
def _build_resource_diff(
    self: Any, other_template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    # The template text alone: moto's own parameter check compares the new values with the
    # parameters given when the stack was created, so a parameter left at its default counted
    # as changed on every update, and every resource using it was listed as modified.
    diff = _original_build_resource_diff(self, other_template, None)
    if parameters is None:
        return diff
    changed = _changed_parameters(self, other_template, parameters)
    if not changed:
        return diff
    conditions_json = other_template.get("Conditions") or {}
    conditions: set[str] = set()
    while True:  # conditions that use a changed parameter, or such a condition
        more = {
            name
            for name, condition in conditions_json.items()
            if name not in conditions and _mentions(condition, changed, conditions)
        }
        if not more:
            break
        conditions |= more
    old = self._resource_json_map
    for name, resource_json in other_template["Resources"].items():
        if name not in old or name in diff["Modify"] or "Condition" in resource_json:
            continue
        if _updatable(resource_json) and _mentions(
            resource_json.get("Properties") or {}, changed, conditions
        ):
            diff["Modify"].append(name)
    return diff


ResourceMap.build_resource_diff = _build_resource_diff


def _change_set_diff(self: Any) -> list[Any]:
    """ChangeSet.diff, with the change set's parameters (moto diffs the template alone)."""
    resource_map = self.stack.resource_map
    template = self.template_dict
    by_action = resource_map.build_resource_diff(template, self.parameters)
    changes = []
    for action in ("Add", "Modify", "Remove"):
        for name in by_action[action]:
            source = template["Resources"]
            if action == "Remove":
                source = resource_map._resource_json_map
            changes.append(cfn_models.Change(action, name, source[name]["Type"]))
    return changes


cfn_models.ChangeSet.diff = _change_set_diff


# ---------------------------------------------------------------------------------------------
# Patch 16: a stack update keeps a resource of a type moto cannot update.
#
# AWS, Understand update behaviors of stack resources: "When you submit an update, AWS
# CloudFormation updates resources based on differences between what you submit and the
# stack's current template." "Update with No Interruption: AWS CloudFormation updates the
# resource without disrupting operation of that resource and without changing the resource's
# physical ID."
#
# moto 5.2 has no update for some types (AWS::Logs::LogGroup, AWS::Lambda::Permission,
# AWS::Lambda::Version, AWS::IAM::ManagedPolicy, ...): when the template changes such a resource,
# the stack loses it, and DescribeStacks then answers HTTP 500 for an output that uses Fn::GetAtt
# on it. With this patch the resource stays, with its old properties (see README).
# ---------------------------------------------------------------------------------------------

_original_parse_and_update_resource = cfn_parsing.parse_and_update_resource


@functools.wraps(_original_parse_and_update_resource)
def _parse_and_update_resource(
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: Any,
    account_id: str,
    region_name: str,
) -> Any:
    updated = _original_parse_and_update_resource(
        logical_id, resource_json, resources_map, account_id, region_name
    )
    if updated is None and not _updatable(resource_json):
        return resources_map[logical_id]
    return updated


cfn_parsing.parse_and_update_resource = _parse_and_update_resource


# ---------------------------------------------------------------------------------------------
# Patch 17: S3 UpdateObjectEncryption (PUT /{Key}?encryption) changes only an object's
# encryption.
#
# AWS, UpdateObjectEncryption: "Updates the server-side encryption type of an existing encrypted
# object in a general purpose bucket." "the UpdateObjectEncryption operation preserves all
# object metadata properties, including the storage class, creation date, last modified date,
# ETag, and checksum properties." SSEKMSEncryption: "You must specify the full AWS KMS key ARN.
# The KMS key ID and KMS key alias aren't supported."
#
# moto 5.2 does not know the operation and takes the request for a PutObject: it replaces the
# object's data with the request's XML body. With this patch the object keeps its data and every
# property but its encryption. (An object moto stores without encryption stands for one under
# AWS's default SSE-S3.)
# ---------------------------------------------------------------------------------------------

_KMS_KEY_ARN = re.compile(r"arn:aws[a-zA-Z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+")


class S3InvalidRequest(s3_exceptions.S3ClientError):
    code = "InvalidRequest"

    def __init__(self, message: str):
        super().__init__("InvalidRequest", message)


def _xml_text(body: bytes, tag: str) -> str | None:
    match = re.search(rf"<{tag}>([^<]*)</{tag}>", body.decode("utf-8", "replace"))
    return match.group(1).strip() if match else None


_original_key_response_put = S3Response._key_response_put


@functools.wraps(_original_key_response_put)
def _key_response_put(self: Any, query: dict[str, Any], key_name: str) -> Any:
    if "encryption" not in query:
        return _original_key_response_put(self, query, key_name)
    self._set_action("KEY", "PUT", query)
    version_id = (query.get("versionId") or [None])[0]
    key = self.backend.get_object(self.bucket_name, key_name, version_id=version_id)
    if key is None:
        raise s3_exceptions.MissingKey(key=key_name)
    body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
    arn = _xml_text(body, "KMSKeyArn")
    if arn is None or not _KMS_KEY_ARN.fullmatch(arn):
        raise S3InvalidRequest(
            "You must specify the full AWS KMS key ARN. The KMS key ID and KMS key alias aren't supported."
        )
    bucket_key = _xml_text(body, "BucketKeyEnabled")
    key.encryption = "aws:kms"
    key.kms_key_id = arn
    key.bucket_key_enabled = None if bucket_key is None else bucket_key.lower()
    return 200, {}, ""


S3Response._key_response_put = _key_response_put


# ---------------------------------------------------------------------------------------------
# Patch 18: CreateKey takes the ed25519 and ML-DSA key specs, and Sign, Verify and GetPublicKey
# work with them.
#
# AWS, CreateKey, KeySpec: "Asymmetric NIST-standard elliptic curve key pairs (signing and
# verification -or- deriving shared secrets) ... ECC_NIST_EDWARDS25519 (ed25519) - signing and
# verification only"; "Asymmetric ML-DSA key pairs (signing and verification): ML_DSA_44,
# ML_DSA_65, ML_DSA_87". "For ECC_NIST_EDWARDS25519 KMS keys, the ED25519_SHA_512 signing
# algorithm requires MessageType:RAW, while ED25519_PH_SHA_512 requires MessageType:DIGEST."
# Sign, SigningAlgorithm: ML_DSA_SHAKE_256 is the ML-DSA algorithm.
#
# moto 5.2.5 refuses these specs with a ValidationException ("Member must satisfy enum value
# set"). With this patch the keys sign RAW messages (pure Ed25519; pure ML-DSA with an empty
# context) and verify, through the cryptography package's own Ed25519 and ML-DSA.
# ---------------------------------------------------------------------------------------------

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa
from moto.kms import utils as kms_utils

_NEW_SIGNING_SPECS = {
    "ECC_NIST_EDWARDS25519": (ed25519.Ed25519PrivateKey, ["ED25519_SHA_512"]),
    "ML_DSA_44": (mldsa.MLDSA44PrivateKey, ["ML_DSA_SHAKE_256"]),
    "ML_DSA_65": (mldsa.MLDSA65PrivateKey, ["ML_DSA_SHAKE_256"]),
    "ML_DSA_87": (mldsa.MLDSA87PrivateKey, ["ML_DSA_SHAKE_256"]),
}

_original_key_specs = kms_utils.KeySpec.key_specs.__func__


def _key_specs(cls: Any) -> list[str]:
    return sorted(set(_original_key_specs(cls)) | set(_NEW_SIGNING_SPECS))


kms_utils.KeySpec.key_specs = classmethod(_key_specs)


class _PureSigningKey(kms_utils.AbstractPrivateKey):
    """An Ed25519 or ML-DSA key pair: it signs the message itself (MessageType RAW)."""

    def __init__(self, key_spec: str) -> None:
        generate, self.algorithms = _NEW_SIGNING_SPECS[key_spec]
        self.private_key = generate.generate()

    def sign(self, message: bytes, signing_algorithm: str) -> bytes:
        kms_utils.validate_signing_algorithm(signing_algorithm, self.algorithms)
        return self.private_key.sign(message)

    def verify(self, message: bytes, signature: bytes, signing_algorithm: str) -> bool:
        kms_utils.validate_signing_algorithm(signing_algorithm, self.algorithms)
        try:
            self.private_key.public_key().verify(signature, message)
            return True
        except InvalidSignature:
            return False

    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            encoding=serialization.Encoding.DER,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )


_original_generate_private_key = kms_models.generate_private_key


def _generate_private_key(key_spec: str) -> Any:
    if key_spec in _NEW_SIGNING_SPECS:
        return _PureSigningKey(key_spec)
    return _original_generate_private_key(key_spec)


kms_models.generate_private_key = _generate_private_key

_original_signing_algorithms = kms_models.Key.signing_algorithms


def _signing_algorithms(self: Any) -> Any:
    if self.key_spec in _NEW_SIGNING_SPECS and self.key_usage == "SIGN_VERIFY":
        return list(_NEW_SIGNING_SPECS[self.key_spec][1])
    return _original_signing_algorithms.fget(self)


kms_models.Key.signing_algorithms = property(_signing_algorithms)


# ---------------------------------------------------------------------------------------------
# Patch 19: grants as AWS documents them: service principals, the ListGrants entry, Name
# idempotency, and the key states CreateGrant refuses.
#
# AWS, CreateGrant, GranteePrincipal: "You must specify either GranteePrincipal or
# GranteeServicePrincipal, but not both." GranteeServicePrincipal: "When you specify a
# GranteeServicePrincipal, you must also specify a SourceArn grant constraint. In addition, you
# must specify either a RetiringPrincipal or a RetiringServicePrincipal." RetiringPrincipal and
# RetiringServicePrincipal: "You can specify either RetiringPrincipal or RetiringServicePrincipal,
# but not both." (A service principal matches ^([A-Za-z0-9\-]+)\.([A-Za-z0-9\-]+)(\.[A-Za-z0-9\-]+)+$,
# 1 to 128 characters.)
# AWS, CreateGrant, Name: "When this value is present, you can retry a CreateGrant request with
# identical parameters; if the grant already exists, the original GrantId is returned without
# creating a new grant. Note that the returned grant token is unique with every CreateGrant
# request, even when a duplicate GrantId is returned. All grant tokens for the same grant ID can
# be used interchangeably."
# AWS, CreateGrant and ListGrants, KeyId: "Specify the key ID or key ARN of the KMS key."
# AWS, GrantListEntry: KeyId, GrantId, Name ("If a name was provided in the CreateGrant request,
# that name is returned."), CreationDate, GranteePrincipal ("if the grantee principal is an
# Amazon Web Services service, the GranteePrincipal field contains an Amazon Web Services service
# principal"), GranteeServicePrincipal, RetiringPrincipal, RetiringServicePrincipal,
# IssuingAccount ("The Amazon Web Services account under which the grant was issued."),
# Operations, Constraints. AWS's own ListGrants example (botocore examples-1.json, "To list grants
# for a KMS key") shows "KeyId": "arn:aws:kms:us-east-2:111122223333:key/1234abcd-..." and
# "IssuingAccount": "arn:aws:iam::111122223333:root".
# AWS, ListGrants, GranteePrincipal: "Returns only grants where the specified principal is the
# grantee principal for the grant."
# AWS, Key states of AWS KMS keys (awsdocs/aws-kms-developer-guide, doc_source/key-state.md):
# CreateGrant fails on a Disabled key ("[1] DisabledException: <CMK ARN> is disabled.") and on a
# key pending deletion ("[3] KMSInvalidStateException: <CMK ARN> is pending deletion.", as patch 1
# answers for cryptographic operations); ListGrants succeeds in every key state.
#
# moto 5.2 rejects neither principal rule (it has no GranteeServicePrincipal or
# RetiringServicePrincipal at all: a service grant is stored with no grantee), creates a new grant
# for every retry of a named CreateGrant, creates grants on disabled keys and keys pending
# deletion, takes alias names in CreateGrant's KeyId, and answers HTTP 500 (KeyError) for an
# unknown key in CreateGrant and ListGrants; ListGrants gives the bare key ID as KeyId, sends null
# for an absent Name, RetiringPrincipal and Constraints, has no CreationDate and no
# IssuingAccount, and ignores the GranteePrincipal filter.
# ---------------------------------------------------------------------------------------------

from moto.moto_api._internal import mock_random
from moto.utilities.utils import get_partition

Grant = kms_models.Grant

_SERVICE_PRINCIPAL_PATTERN = r"^([A-Za-z0-9\-]+)\.([A-Za-z0-9\-]+)(\.[A-Za-z0-9\-]+)+$"


def _check_service_principal(member: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) < 1:
        constraint = "Member must have length greater than or equal to 1"
    elif len(value) > 128:
        constraint = "Member must have length less than or equal to 128"
    elif not re.match(_SERVICE_PRINCIPAL_PATTERN, value):
        constraint = f"Member must satisfy regular expression pattern: {_SERVICE_PRINCIPAL_PATTERN}"
    else:
        return
    raise ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _require_key_id(key_id: Any) -> None:
    if not key_id:
        raise ValidationException(
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
            "Member must not be null"
        )


def _grant_parameters(grant: Any) -> tuple[Any, ...]:
    """What makes two CreateGrant requests with the same Name "identical parameters"."""
    return (
        grant.grantee_principal,
        getattr(grant, "kmsrot_grantee_service_principal", None),
        grant.retiring_principal,
        getattr(grant, "kmsrot_retiring_service_principal", None),
        sorted(grant.operations or []),
        grant.constraints or None,
    )


def _create_grant(self: Any) -> str:
    key_id = self._get_param("KeyId")
    grantee = self._get_param("GranteePrincipal")
    grantee_service = self._get_param("GranteeServicePrincipal")
    retiring = self._get_param("RetiringPrincipal")
    retiring_service = self._get_param("RetiringServicePrincipal")
    operations = self._get_param("Operations")
    name = self._get_param("Name")
    constraints = self._get_param("Constraints") or None

    _require_key_id(key_id)
    _check_service_principal("granteeServicePrincipal", grantee_service)
    _check_service_principal("retiringServicePrincipal", retiring_service)
    if grantee and grantee_service:
        raise ValidationException(
            "You must specify either GranteePrincipal or GranteeServicePrincipal, but not both."
        )
    if not grantee and not grantee_service:
        raise ValidationException(
            "You must specify either GranteePrincipal or GranteeServicePrincipal."
        )
    if retiring and retiring_service:
        raise ValidationException(
            "You can specify either RetiringPrincipal or RetiringServicePrincipal, but not both."
        )
    if grantee_service:
        if not (constraints or {}).get("SourceArn"):
            raise ValidationException(
                "When you specify a GranteeServicePrincipal, you must also specify a SourceArn "
                "grant constraint."
            )
        if not retiring and not retiring_service:
            raise ValidationException(
                "When you specify a GranteeServicePrincipal, you must also specify either a "
                "RetiringPrincipal or a RetiringServicePrincipal."
            )

    self._validate_cmk_id(key_id)  # NotFoundException for an unknown key or an alias
    backend = self.kms_backend
    key = backend.keys[backend.get_key_id(key_id)]
    _require_usable(backend, key.id)  # DisabledException / KMSInvalidStateException (patch 1)

    # A service grant's GranteePrincipal is the service principal (GrantListEntry).
    wanted = (
        grantee or grantee_service,
        grantee_service,
        retiring,
        retiring_service,
        sorted(operations or []),
        constraints,
    )
    if name:
        for grant in list(key.grants.values()):
            if grant.name == name and _grant_parameters(grant) == wanted:
                token = mock_random.get_random_hex()  # as moto makes the first one
                grant.kmsrot_tokens.add(token)
                return json.dumps({"GrantId": grant.id, "GrantToken": token})

    grant = key.add_grant(
        name,
        grantee or grantee_service,
        operations,
        constraints=constraints,
        retiring_principal=retiring,
    )
    grant.kmsrot_key_arn = key.arn
    grant.kmsrot_creation_date = unix_time()
    grant.kmsrot_issuing_account = f"arn:{get_partition(key.region)}:iam::{key.account_id}:root"
    grant.kmsrot_grantee_service_principal = grantee_service
    grant.kmsrot_retiring_service_principal = retiring_service
    grant.kmsrot_tokens = {grant.token}
    return json.dumps({"GrantId": grant.id, "GrantToken": grant.token})


def _list_grants(self: Any) -> str:
    key_id = self._get_param("KeyId")
    _require_key_id(key_id)
    self._validate_cmk_id(key_id)  # NotFoundException for an unknown key or an alias
    grants = self.kms_backend.list_grants(
        key_id=self.kms_backend.get_key_id(key_id), grant_id=self._get_param("GrantId")
    )
    grantee = self._get_param("GranteePrincipal")
    if grantee:
        grants = [grant for grant in grants if grant.grantee_principal == grantee]
    return json.dumps({"Grants": [grant.to_json() for grant in grants], "Truncated": False})


def _grant_to_json(self: Any) -> dict[str, Any]:
    entry = {
        "KeyId": getattr(self, "kmsrot_key_arn", self.key_id),
        "GrantId": self.id,
        "Name": self.name or None,
        "CreationDate": getattr(self, "kmsrot_creation_date", None),
        "GranteePrincipal": self.grantee_principal,
        "GranteeServicePrincipal": getattr(self, "kmsrot_grantee_service_principal", None),
        "RetiringPrincipal": self.retiring_principal,
        "RetiringServicePrincipal": getattr(self, "kmsrot_retiring_service_principal", None),
        "IssuingAccount": getattr(self, "kmsrot_issuing_account", None),
        "Operations": self.operations,
        "Constraints": self.constraints or None,
    }
    return {name: value for name, value in entry.items() if value is not None}


def _retire_grant_by_token(self: Any, grant_token: str) -> None:
    self.grants = {
        grant_id: grant
        for grant_id, grant in self.grants.items()
        if grant_token not in getattr(grant, "kmsrot_tokens", {grant.token})
    }


KmsResponse.create_grant = _create_grant
KmsResponse.list_grants = _list_grants
Grant.to_json = _grant_to_json
Key.retire_grant_by_token = _retire_grant_by_token


# ---------------------------------------------------------------------------------------------
# Patch 20: GetKeyLastUsage, and the record of every successful cryptographic operation.
#
# AWS, GetKeyLastUsage: "Returns usage information about the last successful cryptographic
# operation performed with a specified KMS key, including the operation type, timestamp, and
# associated CloudTrail event ID." "The ReEncrypt operation uses two keys: a source key for
# decryption and a destination key for encryption. Usage information is recorded for both keys
# independently, each with the CloudTrail event ID from the respective key owner's account."
# KeyId (request): "To specify a KMS key, use its key ID or key ARN. Alias names are not
# supported." Response (aws-sdk-kms 1.111): KeyId ("The globally unique identifier for the KMS
# key."); KeyLastUsage: "Contains usage information about the last time the KMS key was used for
# a successful cryptographic operation. If the key has not been used since tracking began, this
# response element is empty." (botocore 1.44.8: "... this response element is an empty
# object."); TrackingStartDate: "The date from which KMS began recording cryptographic activity
# for this key, or the date the KMS key was created, whichever is later."; KeyCreationDate: "The
# date and time when the KMS key was created." KeyLastUsageData: Operation, Timestamp,
# CloudTrailEventId, KmsRequestId, each "Absent if the key has not been used since KMS began
# tracking."
# AWS, Verify: "If the signature verification fails, the Verify operation fails with an
# KMSInvalidSignatureException exception." (patch 3), and VerifyMac likewise fails with
# KMSInvalidMacException: a failed verification is a failed call, not a successful operation.
#
# moto 5.2.5 does not implement GetKeyLastUsage (HTTP 500, "The get_key_last_usage action has
# not been implemented"). With this patch the emulator records, for each key, the last
# successful Encrypt, Decrypt, ReEncrypt (source and destination key), GenerateDataKey,
# GenerateDataKeyWithoutPlaintext, Sign, Verify, GenerateMac and VerifyMac (moto has no
# GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext or DeriveSharedSecret). A call that
# fails (a disabled key, patch 1; an invalid signature, patch 3; any other error) records
# nothing. Tracking starts when the key is created, so TrackingStartDate is KeyCreationDate.
# CloudTrailEventId is a fresh UUID per key, KmsRequestId one UUID per call (the emulator keeps
# no CloudTrail, and moto's own x-amzn-RequestId header is not a UUID).
# ---------------------------------------------------------------------------------------------

import uuid

_TRACKED_OPERATIONS = {
    "encrypt": "Encrypt",
    "decrypt": "Decrypt",
    "re_encrypt": "ReEncrypt",
    "generate_data_key": "GenerateDataKey",
    "generate_data_key_without_plaintext": "GenerateDataKeyWithoutPlaintext",
    "generate_data_key_pair": "GenerateDataKeyPair",
    "generate_data_key_pair_without_plaintext": "GenerateDataKeyPairWithoutPlaintext",
    "derive_shared_secret": "DeriveSharedSecret",
    "sign": "Sign",
    "verify": "Verify",
    "generate_mac": "GenerateMac",
    "verify_mac": "VerifyMac",
}


def _keys_used(backend: Any, body: dict[str, Any]) -> list[Any]:
    """The keys a successful answer names: KeyId (and ReEncrypt's SourceKeyId), in whatever form
    moto answers it (key ARN, bare key ID, or VerifyMac's KeyId as sent)."""
    keys = []
    for field in ("SourceKeyId", "KeyId"):
        value = body.get(field)
        if not value:
            continue
        try:
            key = backend.keys.get(backend.any_id_to_key_id(value))
        except Exception:
            key = None
        if key is not None and key not in keys:
            keys.append(key)
    return keys


def _track_usage(method_name: str, operation: str) -> None:
    original = getattr(KmsResponse, method_name, None)
    if original is None:  # an operation this moto does not implement
        return

    @functools.wraps(original)
    def tracked(self: Any) -> Any:
        # GenerateDataKeyWithoutPlaintext answers through generate_data_key: only the outer
        # call records.
        if getattr(self, "_kmsrot_tracking", False):
            return original(self)
        self._kmsrot_tracking = True
        called_at = unix_time()
        try:
            answer = original(self)  # raises on failure: nothing is recorded
        finally:
            self._kmsrot_tracking = False
        try:
            body = json.loads(answer)
        except (TypeError, ValueError):
            return answer
        request_id = str(uuid.uuid4())
        for key in _keys_used(self.kms_backend, body if isinstance(body, dict) else {}):
            key.kmsrot_last_usage = {
                "Operation": operation,
                "Timestamp": called_at,
                "CloudTrailEventId": str(uuid.uuid4()),
                "KmsRequestId": request_id,
            }
        return answer

    setattr(KmsResponse, method_name, tracked)


for _method_name, _operation in _TRACKED_OPERATIONS.items():
    _track_usage(_method_name, _operation)


def _get_key_last_usage(self: Any) -> str:
    key_id = self._get_param("KeyId")
    _require_key_id(key_id)
    # A key ID or key ARN only: moto's check answers NotFoundException ("Invalid keyId ...") for
    # an alias name or alias ARN, as for its other key-ID-or-ARN operations.
    self._validate_cmk_id(key_id)
    key = self.kms_backend.keys[self.kms_backend.get_key_id(key_id)]
    return json.dumps(
        {
            "KeyId": key.id,
            "KeyLastUsage": dict(getattr(key, "kmsrot_last_usage", None) or {}),
            "TrackingStartDate": key.creation_date,
            "KeyCreationDate": key.creation_date,
        }
    )


KmsResponse.get_key_last_usage = _get_key_last_usage


# ---------------------------------------------------------------------------------------------
# Patch 21: S3 reports the KMS key of a DSSE-KMS object.
#
# AWS, PutObject, SSEKMSKeyId: "If you specify x-amz-server-side-encryption with aws:kms or
# aws:kms:dsse, this header specifies the ID (Key ID, Key ARN, or Key Alias) of the KMS key to
# use." HeadObject, SSEKMSKeyId: "If present, indicates the ID of the KMS key that was used for
# object encryption."
#
# moto 5.2.5 stores the key of an aws:kms:dsse object but answers
# x-amz-server-side-encryption-aws-kms-key-id only for aws:kms, so PutObject, CopyObject,
# HeadObject and GetObject show a DSSE-KMS object without its key.
# ---------------------------------------------------------------------------------------------

from moto.s3 import models as s3_models  # noqa: E402

_original_response_dict = s3_models.FakeKey.response_dict


def _response_dict(self: Any) -> dict[str, Any]:
    res = _original_response_dict.fget(self)
    if self.encryption == "aws:kms:dsse" and self.kms_key_id is not None:
        res["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
    return res


s3_models.FakeKey.response_dict = property(_response_dict)


# ---------------------------------------------------------------------------------------------
# Patch 22: RSA-PSS signatures use a salt as long as the digest.
#
# AWS, SigningAlgorithmSpec: "RSASSA_PSS_SHA_256: PKCS #1 v2.2, Section 8.1, RSA signature with
# PSS padding using SHA-256 for both the message digest and the MGF1 mask generation function
# along with a 256-bit salt" (384-bit and 512-bit for SHA-384 and SHA-512).
#
# moto 5.2.5 signs with the longest salt the key allows, so a verifier that follows AWS's
# definition refuses its signatures.
# ---------------------------------------------------------------------------------------------

from cryptography.hazmat.primitives.asymmetric import padding as _rsa_padding  # noqa: E402

_original_rsa_padding = kms_utils.RSAPrivateKey._RSAPrivateKey__padding_and_hash_algorithm


def _rsa_padding_and_hash(self: Any, signing_algorithm: str) -> Any:
    pad, algorithm = _original_rsa_padding(self, signing_algorithm)
    if isinstance(pad, _rsa_padding.PSS):
        pad = _rsa_padding.PSS(
            mgf=_rsa_padding.MGF1(algorithm), salt_length=_rsa_padding.PSS.DIGEST_LENGTH
        )
    return pad, algorithm


kms_utils.RSAPrivateKey._RSAPrivateKey__padding_and_hash_algorithm = _rsa_padding_and_hash


# ---------------------------------------------------------------------------------------------
# Patch 23: multi-Region keys have key IDs of the form mrk- and 32 hex digits.
#
# AWS, Multi-Region keys in AWS KMS: "Notice that multi-Region keys have a distinctive key ID
# that begins with mrk-. You can use the mrk- prefix to identify MRKs programmatically."
# AWS, Key identifiers (KeyId): "The key IDs of multi-Region keys begin with the mrk- prefix. The
# following is an example key ID for a multi-Region key." "mrk-1234abcd12ab34cd56ef1234567890ab"
# (the KeyId examples of the API reference, ReplicateKey's among them, show the same:
# "Key ID: mrk-1234abcd12ab34cd56ef1234567890ab").
#
# moto 5.2.5 gives a multi-Region key mrk- and a hyphenated UUID (40 characters). Its ciphertext
# keeps 36 characters of key ID, so it cuts such an ID short, and Decrypt of anything the key
# encrypted fails with AccessDeniedException, even in the key's own Region. AWS's form is 36
# characters long and fits. moto's check of a raw key ID (^(mrk-)?UUID$) would refuse it
# ("Invalid keyId"), so it takes mrk- and 32 hex digits too.
# ---------------------------------------------------------------------------------------------

from moto.kms.exceptions import NotFoundException  # noqa: E402

_MRK_KEY_ID = re.compile(r"^mrk-[0-9a-f]{32}$", re.IGNORECASE)

_original_generate_key_id = kms_models.generate_key_id


def _generate_key_id(multi_region: bool = False) -> str:
    if multi_region:
        return "mrk-" + mock_random.uuid4().hex
    return _original_generate_key_id(multi_region)


kms_models.generate_key_id = _generate_key_id

_original_validate_cmk_id = KmsResponse._validate_cmk_id


@functools.wraps(_original_validate_cmk_id)
def _validate_cmk_id(self: Any, key_id: str) -> None:
    if isinstance(key_id, str) and _MRK_KEY_ID.match(key_id):
        if key_id not in self.kms_backend.keys:
            raise NotFoundException(f"Key '{self._display_arn(key_id)}' does not exist")
        return
    _original_validate_cmk_id(self, key_id)


KmsResponse._validate_cmk_id = _validate_cmk_id


# ---------------------------------------------------------------------------------------------
# Patch 24: ReplicateKey makes a replica in another Region that shares the primary's key ID, key
# material and other shared properties, and has its own description, key policy, tags, aliases,
# grants and key state; DescribeKey lists the related keys; a key ARN names one Region.
#
# AWS, ReplicateKey: "A primary key and its replica keys share properties that make them
# interoperable. They have the same key ID and key material. They also have the same key spec,
# key usage, key material origin, and automatic key rotation status. KMS automatically
# synchronizes these shared properties among related multi-Region keys. All other properties of
# a replica key can differ, including its key policy, tags, aliases, and key state." "You cannot
# create more than one replica of a primary key in any Region. If the Region already includes a
# replica of the key you're trying to replicate, ReplicateKey returns an AlreadyExistsException
# error." "When this operation completes, the new replica key has a transient key state of
# Creating. This key state changes to Enabled (or PendingImport) after a few seconds when the
# process of creating the new replica key is complete." KeyId: "Identifies the multi-Region
# primary key that is being replicated." "Specify the key ID or key ARN of a multi-Region primary
# key." ReplicaRegion: "The replica must be in a different Amazon Web Services Region than its
# primary key and other replicas of that primary key". Description: "The default value is an
# empty string (no description)." Policy: "If you do not provide a key policy, KMS attaches the
# default key policy to the KMS key." Tags: "Tags are not a shared property of multi-Region
# keys." Response: ReplicaKeyMetadata ("It also includes the ARN and Amazon Web Services Region
# of its primary key and other replica keys."), ReplicaPolicy, ReplicaTags ("The tags on the new
# replica key.").
# AWS, Multi-Region keys in AWS KMS: "The primary key is the only key that can be replicated."
# "Related multi-Region keys have the same key ID. Their key ARNs (Amazon Resource Names) differ
# only in the Region field." "All other properties of multi-Region keys are independent
# properties, including the description, key policy, grants, enabled and disabled key states,
# aliases, and tags." "Automatic key rotation — You can enable and disable automatic key rotation
# only on the primary key." "You cannot set these properties on a replica key."
# AWS, EnableKeyRotation and DisableKeyRotation: "To enable or disable automatic rotation of a set
# of related multi-Region keys, set the property on the primary key." RotateKeyOnDemand: "To
# perform on-demand rotation of a set of related multi-Region keys, import new key material in
# the primary Region key, import the same key material in each replica Region key, and invoke the
# on-demand rotation on the primary Region key." (Errors: "UnsupportedOperationException: The
# request was rejected because a specified parameter is not supported or a specified resource is
# not valid for this operation.")
# AWS, MultiRegionConfiguration: MultiRegionKeyType "Indicates whether the KMS key is a PRIMARY or
# REPLICA key."; PrimaryKey "Displays the key ARN and Region of the primary key. This field
# includes the current KMS key if it is the primary key."; ReplicaKeys "displays the key ARNs and
# Regions of all replica keys. This field includes the current KMS key if it is a replica key."
# AWS, Key states of AWS KMS keys: ReplicateKey fails on a disabled primary ("DisabledException:
# <key ARN> is disabled.") and on one pending deletion ("KMSInvalidStateException: <key ARN> is
# pending deletion (or pending replica deletion).").
# AWS answers a key ARN of another Region with "NotFoundException: Invalid arn <region>" (seen in
# its answers, e.g. kubernetes-retired/kube-aws#1041; the API reference documents no message).
#
# moto 5.2.5 answers ReplicateKey with HTTP 500 (KeyError) for a key ARN. Given a key ID, it
# copies the primary object shallowly: the replica shares the primary's alias table (an alias made
# in one Region shows in ListAliases and DescribeKey of the other, with the first Region's alias
# ARN), grants and MultiRegionConfiguration (once DescribeKey has read the replica, the primary
# too reports MultiRegionKeyType REPLICA), and takes the primary's description whatever
# Description says; it ignores Policy and Tags and answers no ReplicaTags. Replicating into a
# Region that has the replica already succeeds again, and a replica can be replicated. A replica
# takes EnableKeyRotation and RotateKeyOnDemand (the on-demand rotation then shows in the
# primary's ListKeyRotations), and its rotation status is its own. moto reads only the key ID of a
# key ARN, so the primary's ARN works in the replica's Region.
#
# With this patch ReplicateKey's ReplicaKeyMetadata says Creating (Enabled false) and the replica
# is Enabled by the time DescribeKey can ask. The messages of UnsupportedOperationException,
# AlreadyExistsException and of the ValidationException for a ReplicaRegion that is the
# primary's own Region are the emulator's: AWS documents none (nor which error that last case
# gets).
# ---------------------------------------------------------------------------------------------

from copy import copy  # noqa: E402

from moto.kms.exceptions import AlreadyExistsException  # noqa: E402


class UnsupportedOperationException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("UnsupportedOperationException", message)


def _check_arn_region(response: Any, key_id: Any) -> None:
    """A key ARN or alias ARN names its Region: in another Region it names no key."""
    if not isinstance(key_id, str) or not key_id.startswith("arn:"):
        return
    parts = key_id.split(":")
    if len(parts) > 3 and parts[3] != response.region:
        raise NotFoundException(f"Invalid arn {parts[3]}")


def _in_this_region(method_name: str) -> None:
    original = getattr(KmsResponse, method_name)

    @functools.wraps(original)
    def checked(self: Any, key_id: str) -> None:
        _check_arn_region(self, key_id)
        original(self, key_id)

    setattr(KmsResponse, method_name, checked)


# Every KeyId check of moto's goes through one of these (_validate_key_id calls both).
_in_this_region("_validate_cmk_id")  # patch 23's
_in_this_region("_validate_alias")


def _related_keys(key: Any) -> dict[str, Any]:
    """The set of related multi-Region keys a key belongs to: its primary and its replicas, in the
    order they were made. A primary never replicated is alone in its set."""
    related = getattr(key, "kmsrot_related", None)
    return related if related is not None else {"primary": key, "replicas": []}


def _is_replica(key: Any) -> bool:
    return bool(key.multi_region) and _related_keys(key)["primary"] is not key


def _multi_region_configuration(self: Any) -> dict[str, Any]:
    related = _related_keys(self)
    primary = related["primary"]
    return {
        "MultiRegionKeyType": "REPLICA" if _is_replica(self) else "PRIMARY",
        "PrimaryKey": {"Arn": primary.arn, "Region": primary.region},
        "ReplicaKeys": [{"Arn": r.arn, "Region": r.region} for r in related["replicas"]],
    }


def _ignore_multi_region_configuration(self: Any, value: Any) -> None:
    """moto's Key.__init__ and describe_key write their own copy; the set above is the truth."""


Key.multi_region_configuration = property(
    _multi_region_configuration, _ignore_multi_region_configuration
)


def _replicate_key(
    self: Any,
    key_id: str,
    replica_region: str,
    description: str | None = None,
    policy: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Any:
    primary = self.keys[self.get_key_id(key_id)]
    if not primary.multi_region or _is_replica(primary):
        raise UnsupportedOperationException(f"{primary.arn} is not a multi-Region primary key.")
    _require_usable(self, primary.id)  # DisabledException / KMSInvalidStateException
    if replica_region == self.region_name:
        raise ValidationException(
            f"{primary.arn} is in {replica_region}: the replica must be in a different Region "
            "than its primary key and other replicas of that primary key."
        )
    target = kms_models.kms_backends[self.account_id][replica_region]
    replica_arn = (
        f"arn:{get_partition(replica_region)}:kms:{replica_region}:{self.account_id}"
        f":key/{primary.id}"
    )
    if primary.id in target.keys:
        raise AlreadyExistsException(f"{replica_arn} already exists")

    # Shared: the key ID, key material (and key pair), key spec, key usage, origin, and the
    # history of rotations. Everything else is the replica's own.
    replica = copy(primary)
    for name in [name for name in vars(replica) if name.startswith("kmsrot_")]:
        delattr(replica, name)
    replica.region = replica_region
    replica.arn = replica_arn
    replica.creation_date = unix_time()
    replica.description = description or ""
    replica.policy = policy or replica.generate_default_policy()
    replica.key_state = "Enabled"
    replica.enabled = True
    replica.deletion_date = None
    replica.grants = {}
    replica.aliases = {}
    related = _related_keys(primary)
    related["replicas"].append(replica)
    primary.kmsrot_related = related
    replica.kmsrot_related = related
    target.keys[replica.id] = replica
    if tags:
        target.tagger.tag_resource(replica.id, tags)
    return replica


KmsBackend.replicate_key = _replicate_key


def _replicate_key_response(self: Any) -> str:
    key_id = self._get_param("KeyId")
    _require_key_id(key_id)
    self._validate_cmk_id(key_id)  # a key ID or key ARN, in this Region
    replica = self.kms_backend.replicate_key(
        key_id,
        self._get_param("ReplicaRegion"),
        description=self._get_param("Description"),
        policy=self._get_param("Policy"),
        tags=self._get_param("Tags"),
    )
    target = kms_models.kms_backends[replica.account_id][replica.region]
    metadata = replica.to_dict()["KeyMetadata"]
    # AWS answers while the replica is still being made; here it is ready at once (DescribeKey
    # shows Enabled).
    metadata["KeyState"] = "Creating"
    metadata["Enabled"] = False
    return json.dumps(
        {
            "ReplicaKeyMetadata": metadata,
            "ReplicaPolicy": replica.policy,
            "ReplicaTags": target.tagger.list_tags_for_resource(replica.id)["Tags"],
        }
    )


KmsResponse.replicate_key = _replicate_key_response


def _key_of_request(response: Any) -> Any:
    try:
        backend = response.kms_backend
        return backend.keys.get(backend.any_id_to_key_id(response._get_param("KeyId")))
    except Exception:  # no such key: the operation's own check answers
        return None


_REPLICA_ROTATION_REFUSALS = {
    "enable_key_rotation": "To enable or disable automatic rotation of a set of related "
    "multi-Region keys, set the property on the primary key.",
    "disable_key_rotation": "To enable or disable automatic rotation of a set of related "
    "multi-Region keys, set the property on the primary key.",
    "rotate_key_on_demand": "To perform on-demand rotation of a set of related multi-Region "
    "keys, invoke the on-demand rotation on the primary Region key.",
}


def _primary_only(method_name: str, reason: str) -> None:
    original = getattr(KmsResponse, method_name)

    @functools.wraps(original)
    def primary_only(self: Any) -> Any:
        key = _key_of_request(self)
        if key is not None and _is_replica(key):
            raise UnsupportedOperationException(
                f"{key.arn} is a multi-Region replica key. {reason}"
            )
        return original(self)

    setattr(KmsResponse, method_name, primary_only)


for _method_name, _reason in _REPLICA_ROTATION_REFUSALS.items():
    _primary_only(_method_name, _reason)

_rotation_status_of_any_key = KmsResponse.get_key_rotation_status


@functools.wraps(_rotation_status_of_any_key)
def _get_replica_rotation_status(self: Any) -> str:
    key = _key_of_request(self)
    if key is not None and _is_replica(key):  # a shared property: the primary's
        primary = _related_keys(key)["primary"]
        key.key_rotation_status = primary.key_rotation_status
        # Patch 6's bookkeeping; a key created with rotation on counts from its creation.
        key.kmsrot_rotation_enabled_at = getattr(
            primary, "kmsrot_rotation_enabled_at", primary.creation_date
        )
        if hasattr(primary, "kmsrot_rotation_period_days"):
            key.kmsrot_rotation_period_days = primary.kmsrot_rotation_period_days
        elif hasattr(key, "kmsrot_rotation_period_days"):
            del key.kmsrot_rotation_period_days
    return _rotation_status_of_any_key(self)


KmsResponse.get_key_rotation_status = _get_replica_rotation_status


# ---------------------------------------------------------------------------------------------
# Patch 25: a primary key scheduled for deletion while it has replicas is PendingReplicaDeletion.
#
# AWS, ScheduleKeyDeletion: "You can schedule the deletion of a multi-Region primary key and its
# replica keys at any time. However, KMS will not delete a multi-Region primary key with existing
# replica keys. If you schedule the deletion of a primary key with replicas, its key state
# changes to PendingReplicaDeletion and it cannot be replicated or used in cryptographic
# operations. This status can continue indefinitely. When the last of its replicas keys (sic) is
# deleted (not just scheduled), the key state of the primary key changes to PendingDeletion and
# its waiting period (PendingWindowInDays) begins." Response: KeyId ("The Amazon Resource Name
# (key ARN) of the KMS key whose deletion is scheduled."), DeletionDate ("If the KMS key is a
# multi-Region primary key with replica keys, this field does not appear."), KeyState,
# PendingWindowInDays ("If the KMS key is a multi-Region primary key with replicas, the waiting
# period begins when the last of its replica keys is deleted.").
# AWS, KeyMetadata, PendingDeletionWindowInDays: "This value is present only when the KeyState of
# the KMS key is PendingReplicaDeletion."
# AWS, Key states of AWS KMS keys: in PendingReplicaDeletion as in PendingDeletion, cryptographic
# operations fail with "KMSInvalidStateException: <key ARN> is pending deletion (or pending
# replica deletion)." (patch 1) and CancelKeyDeletion succeeds.
#
# moto 5.2.5 puts such a primary in PendingDeletion with a DeletionDate, as any key. Its
# ScheduleKeyDeletion answer echoes KeyId as sent and has no KeyState or PendingWindowInDays; with
# this patch it has AWS's four fields for every key it schedules. The emulator never deletes a
# key, so such a primary stays PendingReplicaDeletion until CancelKeyDeletion.
# ---------------------------------------------------------------------------------------------

_original_schedule_key_deletion = KmsBackend.schedule_key_deletion  # patch 4's


@functools.wraps(_original_schedule_key_deletion)
def _schedule_key_deletion(self: Any, key_id: str, pending_window_in_days: int) -> Any:
    answer = _original_schedule_key_deletion(self, key_id, pending_window_in_days)
    key = self.keys.get(self.get_key_id(key_id))
    if key is not None and key.key_state == "PendingDeletion":
        if not _is_replica(key) and _related_keys(key)["replicas"]:
            key.key_state = "PendingReplicaDeletion"
            key.deletion_date = None
            key.kmsrot_replica_deletion_window_days = pending_window_in_days
            return None
    return answer


KmsBackend.schedule_key_deletion = _schedule_key_deletion

_original_schedule_key_deletion_response = KmsResponse.schedule_key_deletion


@functools.wraps(_original_schedule_key_deletion_response)
def _schedule_key_deletion_response(self: Any) -> str:
    body = json.loads(_original_schedule_key_deletion_response(self))
    key = self.kms_backend.keys.get(self.kms_backend.get_key_id(self._get_param("KeyId")))
    if key is None or key.key_state not in ("PendingDeletion", "PendingReplicaDeletion"):
        return json.dumps(body)  # moto's own answer (a window outside 7 to 30 changes nothing)
    body["KeyId"] = key.arn
    body["KeyState"] = key.key_state
    body["PendingWindowInDays"] = self._get_param("PendingWindowInDays") or 30
    if key.key_state == "PendingReplicaDeletion":
        body.pop("DeletionDate", None)
    return json.dumps(body)


KmsResponse.schedule_key_deletion = _schedule_key_deletion_response

_original_cancel_key_deletion = KmsBackend.cancel_key_deletion  # patch 4's


@functools.wraps(_original_cancel_key_deletion)
def _cancel_key_deletion(self: Any, key_id: str) -> None:
    _original_cancel_key_deletion(self, key_id)
    key = self.keys.get(self.get_key_id(key_id))
    if key is not None and hasattr(key, "kmsrot_replica_deletion_window_days"):
        del key.kmsrot_replica_deletion_window_days


KmsBackend.cancel_key_deletion = _cancel_key_deletion

_original_key_to_dict = Key.to_dict


@functools.wraps(_original_key_to_dict)
def _key_to_dict(self: Any) -> dict[str, Any]:
    answer = _original_key_to_dict(self)
    if self.key_state == "PendingReplicaDeletion":
        answer["KeyMetadata"]["PendingDeletionWindowInDays"] = getattr(
            self, "kmsrot_replica_deletion_window_days", 30
        )
    return answer


Key.to_dict = _key_to_dict


# ---------------------------------------------------------------------------------------------
# Patch 26: a CREATE change set for a stack in REVIEW_IN_PROGRESS belongs to that stack, and one
# for a stack that exists in any other state is refused.
#
# AWS, CreateChangeSet: "To create a change set for a stack that doesn't exist, for the
# ChangeSetType parameter, specify CREATE. To create a change set for an existing stack, specify
# UPDATE for the ChangeSetType parameter." ChangeSetType: "If you create a change set for a new
# stack, CloudFormation creates a stack with a unique stack ID, but no template or resources. The
# stack will be in the REVIEW_IN_PROGRESS state until you execute the change set." "You can't use
# the UPDATE type to create a change set for a new stack or the CREATE type to create a change
# set for an existing stack."
# AWS, ExecuteChangeSet: "Updates a stack using the input information that was provided when the
# specified change set was created."
# A stack in REVIEW_IN_PROGRESS takes CREATE change sets (aws/aws-cdk#7731: "When a stack is in
# REVIEW_IN_PROGRESS state, ensure we set the ChangeSetType to CREATE"); they are added to it,
# with its stack ID. AWS documents no error for a CREATE change set on an existing stack
# (CreateChangeSet's errors, as aws-sdk-cloudformation's CreateChangeSetError lists them, are
# AlreadyExistsException, "The resource with the name requested already exists.",
# InsufficientCapabilitiesException and LimitExceededException); it answers ValidationError
# "Stack [NAME] already exists and cannot be created again with the changeSet
# [CHANGE-SET-NAME]." (seen in its answers, as `sam deploy` prints them and aws/copilot-cli's
# tests quote them).
#
# moto 5.2.5 makes a second stack of the same name, with a new stack ID, for every CREATE change
# set, whatever stacks of that name exist: after a CREATE change set that was never executed, the
# next one gets a stack of its own; executing it completes that stack, but DescribeStacks by name
# still answers the first, REVIEW_IN_PROGRESS, with no outputs. A CREATE change set for a stack
# that is CREATE_COMPLETE is made too (and yet another stack of that name).
# ---------------------------------------------------------------------------------------------

_STACK_EXISTS = (
    "Stack [{stack}] already exists and cannot be created again with the changeSet [{change_set}]."
)

_original_backend_create_change_set = CloudFormationBackend.create_change_set


@functools.wraps(_original_backend_create_change_set)
def _create_change_set_for_stack_in_review(
    self: Any,
    stack_name: str,
    change_set_name: str,
    template: str,
    parameters: dict[str, str],
    description: str,
    change_set_type: str,
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
) -> tuple[str, str]:
    # A deleted stack is in self.deleted_stacks: only live stacks count.
    stack = next((s for s in list(self.stacks.values()) if s.name == stack_name), None)
    if change_set_type != "CREATE" or stack is None:
        return _original_backend_create_change_set(
            self,
            stack_name=stack_name,
            change_set_name=change_set_name,
            template=template,
            parameters=parameters,
            description=description,
            change_set_type=change_set_type,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
        )
    cfn_models.validate_create_change_set(change_set_name)  # as moto checks the name first
    if stack.status != "REVIEW_IN_PROGRESS":
        raise StackValidationError(
            message=_STACK_EXISTS.format(stack=stack_name, change_set=change_set_name)
        )
    change_set_id = cfn_models.generate_changeset_id(
        change_set_name, self.region_name, self.account_id
    )
    change_set = cfn_models.ChangeSet(
        change_set_type=change_set_type,
        change_set_id=change_set_id,
        change_set_name=change_set_name,
        stack=stack,
        template=template,
        parameters=parameters,
        description=description,
        notification_arns=notification_arns,
        tags=tags,
        role_arn=role_arn,
    )
    change_set.status = "CREATE_COMPLETE"
    change_set.execution_status = "AVAILABLE"
    self.change_sets[change_set_id] = change_set
    return change_set_id, stack.stack_id


CloudFormationBackend.create_change_set = _create_change_set_for_stack_in_review

_execute_change_set_of_patch_11 = CloudFormationBackend.execute_change_set


@functools.wraps(_execute_change_set_of_patch_11)
def _execute_create_change_set(
    self: Any, change_set_name: str, stack_name: str | None = None
) -> None:
    change_set = _change_set_of(self, change_set_name, stack_name)
    stack = self.stacks.get(change_set.stack_id)
    if (
        change_set.change_set_type == "CREATE"
        and change_set.execution_status == "AVAILABLE"
        and stack is not None
    ):
        # The stack in review was made with the settings of its first change set; it is created
        # with those of the one executed. (moto applies a change set's parameters only when it
        # names some: none would leave the first change set's in place of the defaults.)
        stack.resource_map.input_parameters = dict(change_set.parameters)
        stack.tags = dict(change_set.tags or {})
        stack.notification_arns = list(change_set.notification_arns or [])
        stack.role_arn = change_set.role_arn
    _execute_change_set_of_patch_11(self, change_set_name, stack_name)


CloudFormationBackend.execute_change_set = _execute_create_change_set


# ---------------------------------------------------------------------------------------------
# Running the server.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Patch 27: ListAliases gives each alias's CreationDate and LastUpdatedDate.
#
# AWS, AliasListEntry (aws-sdk-kms 1.111): CreationDate: "Date and time that the alias was most
# recently created in the account and Region. Formatted as Unix time."; LastUpdatedDate: "Date
# and time that the alias was most recently associated with a KMS key in the account and
# Region. Formatted as Unix time."
#
# moto 5.2.5 answers neither ("TODO: add creation date and last updated in response_aliases").
# With this patch CreateAlias stamps both, UpdateAlias stamps LastUpdatedDate when the alias
# moves, and ListAliases answers them for every alias it made (AWS managed aliases, which moto
# invents on the fly, get none).
# ---------------------------------------------------------------------------------------------

_create_alias_undated = kms_models.KmsBackend.create_alias
_update_alias_undated = kms_models.KmsBackend.update_alias
_list_aliases_undated = KmsResponse.list_aliases


def _create_alias_stamped(self: Any, target_key_id: str, alias_name: str) -> Any:
    alias = _create_alias_undated(self, target_key_id, alias_name)
    alias.kmsrot_creation_date = alias.kmsrot_last_updated_date = unix_time()
    return alias


def _update_alias_stamped(self: Any, target_key_id: str, alias_name: str) -> Any:
    before = self.get_key_id_from_alias(alias_name)
    alias = _update_alias_undated(self, target_key_id, alias_name)
    if before != alias.target_key_id:
        alias.kmsrot_last_updated_date = unix_time()
    return alias


def _list_aliases_dated(self: Any) -> str:
    answer = json.loads(_list_aliases_undated(self))
    made = {a.alias_name: a for a in self.kms_backend.list_aliases()}
    for entry in answer.get("Aliases", []):
        alias = made.get(entry.get("AliasName"))
        created = getattr(alias, "kmsrot_creation_date", None)
        if created is not None:
            entry["CreationDate"] = created
            entry["LastUpdatedDate"] = getattr(alias, "kmsrot_last_updated_date", created)
    return json.dumps(answer)


kms_models.KmsBackend.create_alias = _create_alias_stamped
kms_models.KmsBackend.update_alias = _update_alias_stamped
KmsResponse.list_aliases = _list_aliases_dated


# ---------------------------------------------------------------------------------------------
# Patch 28: CopyObject honours x-amz-copy-source-if-match on its source and If-Match on its
# destination.
#
# AWS, CopyObject (aws-sdk-s3 1.137): CopySourceIfMatch: "Copies the object if its entity tag
# (ETag) matches the specified tag."; IfMatch: "Copies the object if the entity tag (ETag) of
# the destination object matches the specified tag. If the ETag values do not match, the
# operation returns a 412 Precondition Failed error." (for the source, AWS answers the same
# 412 PreconditionFailed).
#
# moto 5.2.5 checks only x-amz-copy-source-if-none-match and copies whatever the source and
# destination hold now. With this patch both conditions are checked before the copy, and a
# mismatch is 412 PreconditionFailed; a destination If-Match on a missing object is 404
# NoSuchKey, as for PutObject.
# ---------------------------------------------------------------------------------------------

_copy_object_unconditional = S3Response.copy_object


def _etag_matches(key: Any, wanted: str) -> bool:
    return key.etag.strip('"') == wanted.strip().strip('"')


@functools.wraps(_copy_object_unconditional)
def _copy_object_conditional(self: Any) -> Any:
    source_match = self.headers.get("x-amz-copy-source-if-match")
    dest_match = self.headers.get("If-Match")
    if source_match is not None:
        copy_source = self.headers.get("x-amz-copy-source")
        if isinstance(copy_source, bytes):
            copy_source = copy_source.decode("utf-8")
        parsed = urlparse(copy_source)
        src_bucket, src_key = unquote(parsed.path).lstrip("/").split("/", 1)
        src_version = parse_qs(parsed.query).get("versionId", [None])[0]
        source = self.backend.get_object(src_bucket, src_key, version_id=src_version)
        if source is not None and not _etag_matches(source, source_match):
            raise s3_exceptions.PreconditionFailed("x-amz-copy-source-If-Match")
    if dest_match is not None:
        current = self.backend.get_object(self.bucket_name, self.parse_key_name())
        if current is None:
            raise s3_exceptions.MissingKey(key=self.parse_key_name())
        if not _etag_matches(current, dest_match):
            raise s3_exceptions.PreconditionFailed("If-Match")
    return _copy_object_unconditional(self)


S3Response.copy_object = _copy_object_conditional


def _exit_with_parent() -> None:
    """Stops the emulator when the process that started it goes away, however it died."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _seed_alias(alias: str) -> None:
    """Creates a symmetric key behind `alias` (account 123456789012, us-east-1), so that a
    person can try kmsrot right away. Test runs seed nothing but this one alias."""
    backend = kms_models.kms_backends["123456789012"]["us-east-1"]
    key = backend.create_key(
        policy=None,
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        description="kmsrot quick start",
        tags=None,
    )
    backend.create_alias(key.id, alias)
    print(f"kmsrot emulator: {alias} -> {key.arn}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="exit when the parent process exits (used by `cargo xtask test`)",
    )
    parser.add_argument(
        "--seed-alias",
        metavar="ALIAS",
        help="create a symmetric key behind ALIAS in us-east-1 before serving",
    )
    args = parser.parse_args()
    if args.seed_alias:
        _seed_alias(args.seed_alias)
    if args.exit_with_parent:
        threading.Thread(target=_exit_with_parent, daemon=True).start()

    from moto.server import main as moto_main

    print(f"kmsrot emulator: moto server on http://{args.host}:{args.port}", flush=True)
    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    sys.exit(main())
