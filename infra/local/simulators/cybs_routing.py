"""Cybersource simulator: the routing model. An approval rate per merchant id and segment
(currency, card brand), drifting during a run, with soft and hard declines; set, shown and removed
through PUT/GET/DELETE /__admin/routing-model (infra/README.md, "Routing model"). Also the admin
body validation helpers that name the offending field.

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

import random
import re

from cybs_common import (CARD_BRANDS, DECLINE_REASONS, DEFAULT_HARD_REASONS, DEFAULT_SOFT_REASONS,
                         HARD_FALLBACK, SOFT_FALLBACK)


class AdminFieldError(ValueError):
    """A 400 from an admin endpoint that names the offending field of the request body."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def field_path(parent: str, key) -> str:
    return f"{parent}.{key}" if parent else str(key)


def check_keys(obj, field: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(obj, dict):
        raise AdminFieldError(field or "body", "must be a JSON object")
    for key in obj:
        if key not in allowed:
            raise AdminFieldError(field_path(field, key), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in obj:
            raise AdminFieldError(field_path(field, key), "is required")
    return obj


def check_probability(value, field: str) -> float:
    # bool is an int in Python; NaN fails the range test
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise AdminFieldError(field, "must be a number in [0, 1]")
    return float(value)


def valid_segment(key: str) -> bool:
    """"*", "<CURRENCY>", "<brand>" or "<CURRENCY>|<brand>" (brand as in CARD_BRANDS)."""
    if key == "*":
        return True
    currency, sep, brand = key.partition("|")
    if sep:
        return bool(re.fullmatch(r"[A-Z]{3}", currency)) and brand in CARD_BRANDS.values()
    return bool(re.fullmatch(r"[A-Z]{3}", key)) or key in CARD_BRANDS.values()


def check_approval(obj, field: str, need_fallback: bool) -> dict[str, float]:
    if not isinstance(obj, dict) or not obj:
        raise AdminFieldError(field, "must be a non-empty object of segment -> probability")
    out = {}
    for key, value in obj.items():
        if not valid_segment(key):
            raise AdminFieldError(field_path(field, key),
                                  'segment must be "*", "<CURRENCY>", "<brand>" or "<CURRENCY>|<brand>" '
                                  f"(brands: {', '.join(CARD_BRANDS.values())})")
        out[key] = check_probability(value, field_path(field, key))
    if need_fallback and "*" not in out:
        raise AdminFieldError(field_path(field, "*"), "is required (the segment every card falls back to)")
    return out


def check_reasons(obj, field: str) -> list[str]:
    if not isinstance(obj, list) or not obj:
        raise AdminFieldError(field, "must be a non-empty list of errorInformation.reason strings")
    for i, reason in enumerate(obj):
        if not isinstance(reason, str) or not reason.strip():
            raise AdminFieldError(f"{field}[{i}]", "must be a non-empty string")
    return list(obj)


class MerchantModel:
    """One merchant's approval model. Its RNG is its own (seeded from the model seed and the
    merchant id), so outcomes depend only on the sequence of this merchant's model-decided
    authorizations, not on ids, faults or other merchants' traffic."""

    KEYS = {"approval", "soft_decline_share", "soft_decline_reasons", "hard_decline_reasons", "drift"}

    def __init__(self, merchant_id: str, spec, field: str, seed: int):
        check_keys(spec, field, self.KEYS, {"approval"})
        self.merchant_id = merchant_id
        self.base_approval = check_approval(spec["approval"], f"{field}.approval", need_fallback=True)
        self.soft_share = check_probability(spec.get("soft_decline_share", 0.5), f"{field}.soft_decline_share")
        self.soft_reasons = check_reasons(spec.get("soft_decline_reasons", DEFAULT_SOFT_REASONS),
                                          f"{field}.soft_decline_reasons")
        self.hard_reasons = check_reasons(spec.get("hard_decline_reasons", DEFAULT_HARD_REASONS),
                                          f"{field}.hard_decline_reasons")
        drift = spec.get("drift", [])
        if not isinstance(drift, list):
            raise AdminFieldError(f"{field}.drift", "must be a list of {after, approval} steps")
        steps = []
        for i, step in enumerate(drift):
            step_field = f"{field}.drift[{i}]"
            check_keys(step, step_field, {"after", "approval"}, {"after", "approval"})
            after = step["after"]
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                raise AdminFieldError(f"{step_field}.after", "must be an integer >= 0")
            steps.append((after, check_approval(step["approval"], f"{step_field}.approval", need_fallback=False)))
        self.drift = sorted(steps, key=lambda st: st[0])  # stable: equal `after` apply in list order
        self.reset(seed)

    def reset(self, seed: int):
        self.rng = random.Random(f"{seed}:routing:{self.merchant_id}")
        self.approval = dict(self.base_approval)
        self.steps_applied = 0
        self.authorizations = self.approved = self.soft_declined = self.hard_declined = 0
        self.reasons: dict[str, int] = {}
        self.apply_due_steps()

    def apply_due_steps(self):
        """Merge every drift step whose `after` has been reached, so `approval` is always the map
        the next authorization uses (what GET /__admin/routing-model shows)."""
        while self.steps_applied < len(self.drift) and self.drift[self.steps_applied][0] <= self.authorizations:
            self.approval.update(self.drift[self.steps_applied][1])
            self.steps_applied += 1

    def probability(self, currency: str, brand: str | None) -> float:
        """Most specific segment first: CURRENCY|brand, CURRENCY, brand, then "*"."""
        keys = ([f"{currency}|{brand}"] if brand else []) + [currency] + ([brand] if brand else [])
        return next((self.approval[k] for k in keys if k in self.approval), self.approval["*"])

    def decide(self, currency: str, brand: str | None) -> tuple[str, str | None]:
        """("approved", None), ("soft", reason) or ("hard", reason) for the next authorization."""
        p = self.probability(currency, brand)
        self.authorizations += 1
        try:
            if self.rng.random() < p:
                self.approved += 1
                return "approved", None
            if self.rng.random() < self.soft_share:
                self.soft_declined += 1
                kind, reason = "soft", self.rng.choice(self.soft_reasons)
            else:
                self.hard_declined += 1
                kind, reason = "hard", self.rng.choice(self.hard_reasons)
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
            return kind, reason
        finally:
            self.apply_due_steps()

    def config(self) -> dict:
        return {"approval": dict(self.base_approval), "soft_decline_share": self.soft_share,
                "soft_decline_reasons": list(self.soft_reasons), "hard_decline_reasons": list(self.hard_reasons),
                "drift": [{"after": after, "approval": dict(m)} for after, m in self.drift]}

    def counters(self) -> dict:
        return {"authorizations": self.authorizations, "approved": self.approved,
                "soft_declined": self.soft_declined, "hard_declined": self.hard_declined,
                "approval": dict(self.approval), "drift_steps_applied": self.steps_applied,
                "reasons": dict(self.reasons)}


class RoutingModel:
    """The PUT /__admin/routing-model body, validated: {"seed", "merchants": {id: model}}."""

    def __init__(self, spec, default_seed: int, known_merchants):
        check_keys(spec, "", {"seed", "merchants"}, {"merchants"})
        seed = spec.get("seed", default_seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise AdminFieldError("seed", "must be an integer")
        merchants = spec["merchants"]
        if not isinstance(merchants, dict) or not merchants:
            raise AdminFieldError("merchants", "must be a non-empty object of merchant id -> model")
        self.seed = seed
        self.merchants: dict[str, MerchantModel] = {}
        for mid, mspec in merchants.items():
            if mid not in known_merchants:
                raise AdminFieldError(f"merchants.{mid}", "unknown merchant id (configured: "
                                      f"{', '.join(known_merchants)})")
            self.merchants[mid] = MerchantModel(mid, mspec, f"merchants.{mid}", seed)

    def reset(self):
        for m in self.merchants.values():
            m.reset(self.seed)

    def view(self) -> dict:
        return {"model": {"seed": self.seed, "merchants": {mid: m.config() for mid, m in self.merchants.items()}},
                "counters": {mid: m.counters() for mid, m in self.merchants.items()}}


def decline_codes(reason: str, soft: bool) -> tuple[str, str, str]:
    """(processor responseCode, TSS reasonCode, message) for a model-chosen decline reason."""
    return DECLINE_REASONS.get(reason, SOFT_FALLBACK if soft else HARD_FALLBACK)

