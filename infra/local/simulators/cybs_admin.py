"""Cybersource simulator: the admin API under /__admin/ (no signature; loopback only; JSON):
health, state, reset, ledger, faults, reviews, notify, notifications, config, chargebacks, settle,
transient-tokens, routing-model, soft-decline-exempt. infra/README.md, "Admin API", lists them.

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

import time

from cybs_common import ApiError
from cybs_routing import AdminFieldError, RoutingModel, check_keys
from simkit import AdminError


class AdminRoutes:
    """The Cybersource admin routes for simkit.SimHandler (which parses the body and answers)."""

    def route_admin_common(self, method, path, query, body):
        """(status, JSON object) of an admin call; a Cybersource error keeps its own body, a bad
        admin field is named (`{"error", "field"}`)."""
        try:
            return self.cybs_admin(method, path, query, body)
        except ApiError as e:
            raise AdminError(e.http_status, str(e), body=e.body) from None
        except AdminFieldError as e:
            raise AdminError(400, str(e), field=e.field) from None

    def cybs_admin(self, method, path, query, body):
        sim = self.sim
        mid_filter = query["merchant_id"][0] if "merchant_id" in query else None
        if path == "/__admin/health" and method == "GET":
            return (200, {"status": "ok", "merchant_id": sim.creds["merchant_id"],
                          "merchant_ids": list(sim.merchants),
                          "uptime_s": round(time.monotonic() - sim.started, 3)})
        elif path == "/__admin/state" and method == "GET":
            with sim.lock:
                return (200, sim.state(mid_filter))
        elif path == "/__admin/reset" and method == "POST":
            sim.reset(keep_faults=admin_flag(body, query, "keep_faults", False),
                      keep_model=admin_flag(body, query, "keep_model", True))
            return (200, {"reset": True})
        elif path == "/__admin/ledger" and method == "GET":
            with sim.lock:
                rows = list(sim.ledger)
            for key in ("code", "type", "status", "id", "rootId", "transactionId", "merchant_id"):
                if key in query:
                    rows = [r for r in rows if str(r.get(key)) == query[key][0]]
            return (200, {"entries": rows, "count": len(rows)})
        elif path == "/__admin/faults":
            if method == "GET":
                with sim.lock:
                    return (200, {"faults": [f.as_dict() for f in sim.faults.values()]})
            elif method == "POST":
                return (200, {"faults": sim.set_faults(body)})
            elif method == "DELETE":
                with sim.lock:
                    if "operation" in query:
                        for op in query["operation"]:
                            sim.faults.pop(op, None)
                    else:
                        sim.faults.clear()
                return (200, {"faults": [f.as_dict() for f in sim.faults.values()]})
            else:
                return (405, {"error": "method not allowed"})
        elif path.startswith("/__admin/reviews/") and method == "POST":
            tid = path.rsplit("/", 1)[1]
            decision = str(body.get("decision", "")).lower()
            if decision not in ("accept", "reject"):
                raise ValueError("decision must be accept or reject")
            with sim.lock:
                p, entries, event, payload = sim.decide_review(
                    tid, decision, capture=body.get("capture"), reverse=bool(body.get("reverse", False)),
                    source="admin-review")
                notif = None
                if body.get("notify", True):
                    notif = sim.build_notification(event, payload, None, body.get("tamper"), None,
                                                   body.get("url"), p.merchant_id)
                view = sim.txn_state(p)
            if notif:
                sim.dispatch(notif, sync=bool(body.get("sync", False)))
            return (200, {"transaction": view, "effects": entries,
                          "notification": sim.notification_view(notif) if notif else None})
        elif path == "/__admin/notify" and method == "POST":
            if not body.get("eventType"):
                raise ValueError("eventType is required")
            if body.get("merchant_id") is not None and body["merchant_id"] not in sim.merchants:
                raise AdminFieldError("merchant_id", "unknown merchant id")
            with sim.lock:
                notif = sim.build_notification(str(body["eventType"]), body.get("payload", {}),
                                               body.get("productId"), body.get("tamper"),
                                               body.get("timestamp_ms"), body.get("url"), body.get("merchant_id"))
            sim.dispatch(notif, repeat=int(body.get("repeat", 1)), sync=bool(body.get("sync", False)))
            return (200, {"notification": sim.notification_view(notif)})
        elif path == "/__admin/notifications" and method == "GET":
            with sim.lock:
                return (200, {"notifications": [sim.notification_view(n) for n in sim.notifications]})
        elif path == "/__admin/config":
            if method == "POST":
                allowed = {"notify_url", "date_window_s", "tss_lag_ms", "duplicate_transaction_id",
                           "notify_retries", "notify_retry_interval_ms", "notify_timeout_s",
                           "webhook_signed_content", "quiet", "explain_401"}
                unknown = set(body) - allowed
                if unknown:
                    raise ValueError(f"unknown config keys: {sorted(unknown)}")
                if body.get("duplicate_transaction_id", "allow") not in ("allow", "reject"):
                    raise ValueError("duplicate_transaction_id must be allow or reject")
                if body.get("webhook_signed_content", "payload") not in ("payload", "raw_body"):
                    raise ValueError("webhook_signed_content must be payload or raw_body")
                with sim.lock:
                    sim.config.update(body)
            return (200, {"config": sim.config})
        elif path == "/__admin/chargebacks":
            if method == "POST":
                with sim.lock:
                    cb = sim.add_chargeback(body)
                return (201, {"chargeback": cb})
            else:
                with sim.lock:
                    return (200, {"chargebacks": sim.chargebacks})
        elif path == "/__admin/settle" and method == "POST":
            with sim.lock:
                n = sim.settle(body.get("id"))
            return (200, {"settled": n})
        elif path == "/__admin/transient-tokens" and method == "POST":
            with sim.lock:
                return (201, sim.mint_transient_token(body))
        elif path == "/__admin/routing-model":
            return self.routing_model_admin(method, body)
        elif path == "/__admin/soft-decline-exempt":
            if method == "PUT":
                check_keys(body, "", {"merchant_ids"}, {"merchant_ids"})
                ids = body["merchant_ids"]
                if not isinstance(ids, list):
                    raise AdminFieldError("merchant_ids", "must be a list of merchant ids")
                for i, mid in enumerate(ids):
                    if mid not in sim.merchants:
                        raise AdminFieldError(f"merchant_ids[{i}]", "unknown merchant id (configured: "
                                              f"{', '.join(sim.merchants)})")
                with sim.lock:
                    sim.soft_exempt = set(ids)
            elif method != "GET":
                return (405, {"error": "method not allowed"})
            with sim.lock:
                return (200, {"merchant_ids": sorted(sim.soft_exempt)})
        else:
            return (404, {"error": f"no admin endpoint {method} {path}"})

    def routing_model_admin(self, method: str, body: dict):
        """PUT sets (replaces) the model and zeroes its counters; GET shows config + counters;
        DELETE removes it (back to approve-unless-triggered)."""
        sim = self.sim
        if method == "PUT":
            model = RoutingModel(body, sim.seed, list(sim.merchants))  # validates before replacing
            with sim.lock:
                sim.routing = model
        elif method == "DELETE":
            with sim.lock:
                sim.routing = None
        elif method != "GET":
            return (405, {"error": "method not allowed"})
        with sim.lock:
            return (200, sim.routing.view() if sim.routing else {"model": None, "counters": {}})


def admin_flag(body: dict, query: dict, name: str, default: bool) -> bool:
    """A boolean admin option from the JSON body ({"keep_model": false}) or the query string
    (?keep_model=0); the body wins."""
    if name in body:
        return bool(body[name])
    if name in query:
        return query[name][0].strip().lower() not in ("0", "false", "no", "off", "")
    return default

