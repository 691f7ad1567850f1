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
import os
import sys
import threading
import time
from typing import Any, Callable

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.kms import models as kms_models
from moto.kms.exceptions import ValidationException
from moto.kms.responses import KmsResponse
from moto.kms.utils import _deserialize_ciphertext_blob


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
# Running the server.
# ---------------------------------------------------------------------------------------------


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
