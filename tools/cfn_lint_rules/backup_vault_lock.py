"""E9118: a vault lock that AWS Backup accepts, and backups that the locked vault accepts.

Backup API reference, PutBackupVaultLockConfiguration: ChangeableForDays "you must set ... to 3
or greater"; MinRetentionDays and MaxRetentionDays: "any backup or copy job to the vault must have
a lifecycle policy with a retention period equal to or longer than the minimum [equal to or
shorter than the maximum] ... then the vault fails that backup or copy job". Checked with the
parameters' defaults (and their declared ranges for ChangeableForDays): the lock's bounds and every
backup plan rule that targets the locked vault, by Ref. The schemas carry none of this.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch


def _default(value: Any, parameters: dict[str, Any]) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and "Default" in parameters.get(value["Ref"], {}):
        return float(parameters[value["Ref"]]["Default"])
    return None


def _lowest(value: Any, parameters: dict[str, Any]) -> float | None:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        spec = parameters[value["Ref"]]
        return float(spec["MinValue"]) if "MinValue" in spec else _default(value, parameters)
    return _default(value, parameters)


def _days(value: float | None) -> str:
    return "unbounded" if value is None else f"{value:g}"


def _lock(properties: dict[str, Any]) -> dict[str, Any] | None:
    lock = properties.get("LockConfiguration")
    if isinstance(lock, dict) and "Fn::If" in lock:
        lock = lock["Fn::If"][1]  # the branch that sets a lock
    return lock if isinstance(lock, dict) else None


class VaultLockRetention(CloudFormationLintRule):
    id = "E9118"
    shortdesc = "AWS Backup vault lock: ChangeableForDays >= 3, and backups retained within the lock's range"
    description = "A locked vault fails every backup or copy job whose retention lies outside [Min, Max]RetentionDays"
    source_url = "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutBackupVaultLockConfiguration.html"
    tags: ClassVar[list[str]] = ["resources", "backup", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        parameters = cfn.template.get("Parameters") or {}
        matches = []
        locks: dict[str, tuple[float | None, float | None]] = {}
        for name, vault in cfn.get_resources(["AWS::Backup::BackupVault"]).items():
            lock = _lock(vault.get("Properties") or {})
            if lock is None:
                continue
            path = ["Resources", name, "Properties", "LockConfiguration"]
            changeable = lock.get("ChangeableForDays")
            lowest = _lowest(changeable, parameters) if changeable is not None else None
            if lowest is not None and lowest < 3:
                matches.append(
                    RuleMatch(path, f"{name}: ChangeableForDays can be {lowest:g}; AWS Backup needs 3 or more")
                )
            low = _default(lock.get("MinRetentionDays"), parameters)
            high = _default(lock.get("MaxRetentionDays"), parameters)
            if low is not None and high is not None and low > high:
                matches.append(RuleMatch(path, f"{name}: MinRetentionDays {low:g} exceeds MaxRetentionDays {high:g}"))
            locks[name] = (low, high)
        for name, plan in cfn.get_resources(["AWS::Backup::BackupPlan"]).items():
            rules = ((plan.get("Properties") or {}).get("BackupPlan") or {}).get("BackupPlanRule") or []
            for index, rule in enumerate(rules if isinstance(rules, list) else []):
                target = rule.get("TargetBackupVault") if isinstance(rule, dict) else None
                vault = target.get("Ref") if isinstance(target, dict) else None
                if vault not in locks:
                    continue
                days = _default((rule.get("Lifecycle") or {}).get("DeleteAfterDays"), parameters)
                low, high = locks[vault]
                if days is not None and ((low is not None and days < low) or (high is not None and days > high)):
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", "BackupPlan", "BackupPlanRule", index, "Lifecycle"],
                            f"{name}: backups kept {days:g} days, outside {vault}'s lock "
                            f"({_days(low)} to {_days(high)}): the vault fails every such job",
                        )
                    )
        return matches
