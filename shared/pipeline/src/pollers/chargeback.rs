//! chargeback-poller: the Cybersource chargeback details report → disputes.
//!
//! Cybersource publishes no chargeback webhook (`docs/cybersource.md` §3.3), so an hourly schedule
//! reads `GET /reporting/v3/chargeback-details` for `[cursor − overlap, now]` (in slices of at
//! most a day) and handles every row, oldest first:
//!
//! 1. **Which dispute, which order.** The chargeback id is `cb-<transaction id>` (the report's
//!    `requestId`: one dispute per disputed transaction, stable over the dispute's later rows).
//!    The order is found through the reference index ([`crate::references`]): the transaction
//!    id, else our `clientReferenceInformation.code` (`merchantReferenceNumber`; hashed for order
//!    ids over 45 characters) — parsing `<order>-<suffix>` only for orders from before the index
//!    — and the transaction must be that order's authorization or capture. What the row says is read from `action` by
//!    [`dispute_event`]: opened, won, lost, or informational (retrievals, representments).
//! 2. **Recorded once**: a conditional put of `IDEM#chargeback#<chargeback id>:<event>` with the
//!    row's hash (TTL ~13 months). The first sighting is logged; the record is an audit trail,
//!    not the gate — the order is.
//! 3. **The domain fact**: a conditional transition (expected state + version)
//!    `Captured | PartiallyRefunded → Disputed`, later `Disputed → DisputeWon | DisputeLost`,
//!    writing the [`Chargeback`] into the order and one timeline entry (`chargeback.opened` /
//!    `.won` / `.lost`) with the reason code and the Cybersource transaction as external ref. A
//!    won/lost row for an order whose opening row was never seen opens the dispute first.
//! 4. **The effects**, each an idempotent upsert keyed by the chargeback id: the NetSuite
//!    `customerRefund` `o2c-cb-<txn>` ([`chargeback_record`]), the Salesforce Case keyed
//!    `cb-<txn>` ([`dispute_case`]), and Clarity's status from the one status table
//!    (`Disputed → on_hold`, `DisputeWon → payment_received`, `DisputeLost → payment_failed`)
//!    with a shopper-safe reason from the one reason table (`CUSTOMER_REASONS`), plus
//!    `dispute*` metadata. `CLARITY_ASSUMED.md` §4.5 forbids those moves from `shipped`,
//!    `completed` and `cancelled`: such an order keeps its status and gets the metadata only.
//! 5. **Done marker**: one conditional write records the effect `chargeback:<id>:<event>` on the
//!    order, links the ERP and CRM ids into the chargeback and appends `chargeback.synced`.
//!    A row whose marker is there is finished: polling it again reads the order and stops.
//!
//! The poller writes the effects itself rather than nudging clarity-sync / erp-sync: those
//! consumers converge the order's status and sale records, and know neither the dispute's
//! reason text nor its own ERP/CRM records, nor Clarity's "metadata only after shipment" rule.
//! A failure after step 3 leaves the marker unwritten, so the next run (the row is still in its
//! window: the cursor is held at the earliest unfinished row) repeats step 4 — upserts, so
//! nothing doubles.
//!
//! Rows that can never apply — the order is unknown, the transaction is not the order's, the
//! order was never captured or is fully refunded, the dispute was already decided the other way
//! — are logged and skipped (no error loop). Orders in an in-progress state (a refund running)
//! are deferred to the next run.
//!
//! Outcomes in the simulator (infra README, `POST /__admin/chargebacks`): the first row is the
//! chargeback (`action` "Chargeback"); a later row for the same `transactionId` with `action`
//! "Chargeback Reversal" (sign `+`) is a won dispute, "Second Chargeback" / "Arbitration
//! Chargeback" / "Dispute Lost" a lost one.
//!
//! Event (all optional): `{"start": RFC 3339, "end": RFC 3339}` reads that window instead and
//! leaves the cursor alone (an operator's re-run).

use super::{event_time, offset_date_time, Lookback, PollCursor, Window};
use crate::messages::short_hash;
use crate::references::order_of_reference;
use o2c_connectors::clarity::dto::{ClarityStatus, OrderPatch};
use o2c_connectors::clarity::{valid_idempotency_key, ClarityApi};
use o2c_connectors::cybersource::{ChargebackReportEntry, Deadline, PaymentGateway};
use o2c_connectors::mapping::clarity::{
    clarity_status_for, clarity_transition_allowed, customer_status_reason,
};
use o2c_connectors::mapping::netsuite::{chargeback_record, dispute_status, ErpMapping};
use o2c_connectors::mapping::salesforce::{dispute_case, CrmMapping};
use o2c_connectors::netsuite::ErpApi;
use o2c_connectors::salesforce::CrmApi;
use o2c_domain::pii::MaskPolicy;
use o2c_domain::ports::{
    Change, ClaimChange, Clock, EffectRecord, Expect, IdempotencyRecord, OrderRecord, OrderStore,
    PutOutcome, ReferenceIndex, StoreError,
};
use o2c_domain::{
    Chargeback, ChargebackId, ChargebackStatus, ExternalIds, Money, Order, OrderId, OrderState,
    TimelineEntry, Timestamp, Transition,
};
use o2c_runtime::lambda::Error;
use o2c_spec::Specs;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The function's name (cursor key, logs, summary).
pub const POLLER: &str = "chargeback-poller";

/// The idempotency scope of chargeback report rows.
pub const SCOPE: &str = "chargeback";

/// What a report row says about its dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DisputeEvent {
    Opened,
    /// A row that changes nothing here (retrieval request, representment, pre-arbitration).
    Informational,
    Won,
    Lost,
}

impl DisputeEvent {
    pub const fn as_str(self) -> &'static str {
        match self {
            DisputeEvent::Opened => "opened",
            DisputeEvent::Informational => "informational",
            DisputeEvent::Won => "won",
            DisputeEvent::Lost => "lost",
        }
    }

    /// The domain state the order is in once this event is applied.
    pub const fn target(self) -> Option<OrderState> {
        match self {
            DisputeEvent::Opened => Some(OrderState::Disputed),
            DisputeEvent::Won => Some(OrderState::DisputeWon),
            DisputeEvent::Lost => Some(OrderState::DisputeLost),
            DisputeEvent::Informational => None,
        }
    }

    const fn status(self) -> ChargebackStatus {
        match self {
            DisputeEvent::Won => ChargebackStatus::Won,
            DisputeEvent::Lost => ChargebackStatus::Lost,
            _ => ChargebackStatus::Open,
        }
    }
}

/// How the report's `action` reads, first match wins (case-insensitive substring). Card-network
/// wording: a "chargeback reversal" returns the funds (won); a second / arbitration chargeback
/// is final (lost); retrievals, representments and pre-arbitration are steps in between.
pub const ACTIONS: &[(&str, DisputeEvent)] = &[
    ("retrieval", DisputeEvent::Informational),
    ("pre-arbitration", DisputeEvent::Informational),
    ("prearbitration", DisputeEvent::Informational),
    ("representment", DisputeEvent::Informational),
    ("re-presentment", DisputeEvent::Informational),
    ("reversal", DisputeEvent::Won),
    ("won", DisputeEvent::Won),
    ("lost", DisputeEvent::Lost),
    ("second chargeback", DisputeEvent::Lost),
    ("arbitration", DisputeEvent::Lost),
    ("chargeback", DisputeEvent::Opened),
    ("dispute", DisputeEvent::Opened),
];

/// The event of a report row's `action` (absent = a chargeback: the report's default row).
pub fn dispute_event(action: Option<&str>) -> DisputeEvent {
    let Some(a) = action.map(str::to_ascii_lowercase) else {
        return DisputeEvent::Opened;
    };
    ACTIONS
        .iter()
        .find(|(pattern, _)| a.contains(pattern))
        .map_or(DisputeEvent::Informational, |(_, e)| *e)
}

/// The order id of one of our Cybersource references: `<order>-<suffix>` minus the suffix.
/// (Long order ids are sent as a hash, `o2c<hash>-<suffix>`, which cannot be read back: the
/// poller asks the reference index first and keeps this for orders from before it.)
pub fn order_id_of_reference(reference: &str) -> Option<OrderId> {
    let (order, suffix) = reference.rsplit_once('-')?;
    if suffix.is_empty() || order.is_empty() {
        return None;
    }
    OrderId::new(order).ok()
}

/// A report row, read.
#[derive(Clone, Debug)]
pub struct ChargebackRow {
    pub chargeback_id: ChargebackId,
    pub transaction_id: String,
    pub order_id: OrderId,
    pub event: DisputeEvent,
    pub action: String,
    pub amount: Money,
    pub reason_code: String,
    pub nature: Option<String>,
    pub time: Timestamp,
    pub respond_by: Option<String>,
    /// Hex SHA-256 prefix of the row as received.
    pub hash: String,
}

impl ChargebackRow {
    /// Read a row whose order was looked up (`order_id`: `None` if none was found); `Err` says
    /// why it cannot be used (logged, skipped).
    pub fn read(
        e: &ChargebackReportEntry,
        order_id: Option<OrderId>,
    ) -> Result<ChargebackRow, String> {
        // Card data never enters (issue 12/5): every value of the row, decoded and normalised.
        if let Some(at) = serde_json::to_value(&e.raw)
            .ok()
            .as_ref()
            .and_then(o2c_domain::card::json_card_path)
        {
            return Err(format!(
                "card data refused: the row holds a card-number-like value at {at}; skipped"
            ));
        }
        let txn = e
            .transaction_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or("row without requestId (transaction id)")?;
        let chargeback_id = ChargebackId::new(format!("cb-{txn}"))
            .map_err(|_| format!("transaction id {txn:?} cannot name a chargeback"))?;
        let reference = e.reference.as_deref().unwrap_or_default();
        let order_id = order_id.ok_or_else(|| {
            format!(
                "neither transaction {txn} nor merchantReferenceNumber {reference:?} names one of \
                 our orders"
            )
        })?;
        let amount = e
            .amount
            .ok_or_else(|| format!("chargeback {chargeback_id} has no amount"))?;
        let time = e
            .time
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .ok_or_else(|| format!("chargeback {chargeback_id} has no readable time"))?;
        let raw = serde_json::to_string(&e.raw).unwrap_or_default();
        Ok(ChargebackRow {
            chargeback_id,
            transaction_id: txn.to_string(),
            order_id,
            event: dispute_event(e.action.as_deref()),
            action: e.action.clone().unwrap_or_else(|| "Chargeback".into()),
            amount,
            reason_code: e
                .reason_code
                .clone()
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "unknown".into()),
            nature: e.raw.nature_of_dispute.clone().filter(|n| !n.is_empty()),
            time,
            respond_by: e.response_due_time.clone().filter(|t| !t.is_empty()),
            hash: short_hash(&raw, 64),
        })
    }

    /// The effect key that marks `event` of this chargeback as fully handled on the order.
    pub fn marker(&self, event: DisputeEvent) -> String {
        format!("chargeback:{}:{}", self.chargeback_id, event.as_str())
    }

    /// Why the order changes, in an operator's words (timeline; never sent to Clarity, whose
    /// reason comes from `mapping::clarity::CUSTOMER_REASONS`).
    pub fn reason(&self, event: DisputeEvent) -> String {
        let nature = self
            .nature
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        match event {
            DisputeEvent::Won => format!(
                "Chargeback {} won ({}): the funds came back",
                self.chargeback_id, self.action
            ),
            DisputeEvent::Lost => format!(
                "Chargeback {} lost ({}): the funds went back to the cardholder",
                self.chargeback_id, self.action
            ),
            _ => {
                let due = self
                    .respond_by
                    .as_deref()
                    .map(|d| format!("; respond by {d}"))
                    .unwrap_or_default();
                format!(
                    "Chargeback reason {}{nature}: {} disputed on Cybersource transaction {}{due}",
                    self.reason_code, self.amount, self.transaction_id
                )
            }
        }
    }

    fn notes(&self) -> String {
        let mut n = format!("Report action: {}.", self.action);
        if let Some(x) = &self.nature {
            n.push_str(&format!("\nNature of dispute: {x}."));
        }
        if let Some(d) = &self.respond_by {
            n.push_str(&format!("\nRespond by {d}."));
        }
        n
    }
}

/// Tunables (defaults suit an hourly schedule).
#[derive(Clone, Copy, Debug)]
pub struct ChargebackSettings {
    pub lookback: Lookback,
    /// The longest window one report request asks for.
    pub max_report_span: Duration,
    /// How long a report row's idempotency record is kept.
    pub remember: Duration,
    /// Time budget of all Cybersource calls of one report request.
    pub call_budget: Duration,
}

impl Default for ChargebackSettings {
    fn default() -> Self {
        ChargebackSettings {
            lookback: Lookback {
                overlap: Duration::from_secs(24 * 3600),
                first: Duration::from_secs(7 * 24 * 3600),
                max: Duration::from_secs(30 * 24 * 3600),
            },
            max_report_span: Duration::from_secs(24 * 3600),
            remember: Duration::from_secs(400 * 24 * 3600),
            call_budget: Duration::from_secs(60),
        }
    }
}

/// What happened to one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    /// The event was applied now (transition and/or effects).
    Applied(DisputeEvent),
    /// Already fully handled by an earlier run.
    AlreadyDone,
    /// Nothing to do for this kind of row.
    Ignored(String),
    /// Can never apply; logged.
    Skipped(String),
    /// Not now (the order is mid-step); the next run tries again.
    Deferred(String),
    /// An effect or write failed; the next run tries again.
    Failed(String),
}

impl RowOutcome {
    fn retry_later(&self) -> bool {
        matches!(self, RowOutcome::Deferred(_) | RowOutcome::Failed(_))
    }
}

/// The chargeback poller.
pub struct ChargebackPoller {
    pub store: Arc<dyn OrderStore>,
    /// Cybersource transaction id / reference → order.
    pub references: Arc<dyn ReferenceIndex>,
    pub cursor: Arc<dyn PollCursor>,
    pub gateway: Arc<dyn PaymentGateway>,
    pub clarity: Arc<dyn ClarityApi>,
    pub erp: Arc<dyn ErpApi>,
    pub crm: Arc<dyn CrmApi>,
    /// The integration spec versions: each order is mapped under the one it pinned.
    pub specs: Arc<Specs>,
    /// Mask PII in what leaves for the ERP/CRM (stages below production).
    pub mask: MaskPolicy,
    pub clock: Arc<dyn Clock>,
    pub settings: ChargebackSettings,
}

const WRITE_ATTEMPTS: usize = 4;

impl ChargebackPoller {
    /// One scheduled (or operator) run; the answer summarises every row.
    pub async fn run(&self, event: Value) -> Result<Value, Error> {
        let now = self.clock.now();
        let start = event_time(&event, "start")?;
        let end = event_time(&event, "end")?.unwrap_or(now);
        let (window, scheduled) = match start {
            Some(start) => (Window { start, end }, false),
            None => {
                let cursor = self.cursor.load(POLLER).await?;
                (Window::scheduled(cursor, now, self.settings.lookback), true)
            }
        };
        if window.end <= window.start {
            return Err(format!("empty window {} .. {}", window.start, window.end).into());
        }
        let mut rows = self.report(window).await?;
        // Oldest first; an opening before its outcome when both carry one time.
        rows.sort_by_key(|r| match r {
            Ok(row) => (row.time, row.event),
            Err(_) => (Timestamp::from_millis(0), DisputeEvent::Opened),
        });

        let mut summary = Summary::default();
        let mut hold: Option<Timestamp> = None;
        for row in &rows {
            let (row, outcome) = match row {
                Ok(row) => (Some(row), self.process(row, now).await),
                Err(why) => (None, RowOutcome::Skipped(why.clone())),
            };
            if outcome.retry_later() {
                let t = row.map_or(window.start, |r| r.time);
                hold = Some(hold.map_or(t, |h| h.min(t)));
            }
            summary.add(row, &outcome);
        }
        let advanced_to = if scheduled {
            Some(
                self.cursor
                    .advance(POLLER, hold.unwrap_or(window.end))
                    .await?,
            )
        } else {
            None
        };
        tracing::info!(
            window_start = %window.start, window_end = %window.end, rows = rows.len(),
            applied = summary.applied.len(), already_done = summary.already_done,
            skipped = summary.skipped.len(), deferred = summary.deferred.len(),
            failed = summary.failed.len(), "chargeback poll finished"
        );
        if !summary.failed.is_empty() {
            o2c_runtime::metrics::count(POLLER, "ChargebackRowsFailed");
        }
        Ok(summary.into_json(window, rows.len(), advanced_to))
    }

    /// The report rows of a window, in slices of at most `max_report_span`.
    async fn report(&self, window: Window) -> Result<Vec<Result<ChargebackRow, String>>, Error> {
        let mut out = Vec::new();
        let mut from = window.start;
        while from < window.end {
            let to = from.plus(self.settings.max_report_span).min(window.end);
            let entries = self
                .gateway
                .chargeback_details(
                    offset_date_time(from),
                    offset_date_time(to),
                    Deadline::within(self.settings.call_budget),
                )
                .await?;
            for e in &entries {
                // A store failure fails the run (the cursor stays; the next run reads again).
                let order = self.order_of_row(e).await?;
                out.push(ChargebackRow::read(e, order));
            }
            from = to;
        }
        // Slices share their boundary instant: a row exactly on it comes twice.
        let mut seen = std::collections::HashSet::new();
        out.retain(|r| match r {
            Ok(row) => seen.insert(row.hash.clone()),
            Err(_) => true,
        });
        Ok(out)
    }

    /// The order of a report row: its transaction (`requestId`) in the reference index, else its
    /// `merchantReferenceNumber` ([`order_of_reference`]).
    async fn order_of_row(&self, e: &ChargebackReportEntry) -> Result<Option<OrderId>, StoreError> {
        let trimmed = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        if let Some(txn) = trimmed(&e.transaction_id) {
            if let Some(order) = self.references.order_of(&txn).await? {
                return Ok(Some(order));
            }
        }
        match trimmed(&e.reference) {
            Some(r) => order_of_reference(self.references.as_ref(), &r).await,
            None => Ok(None),
        }
    }

    /// One row: record it once, then apply its event.
    pub async fn process(&self, row: &ChargebackRow, now: Timestamp) -> RowOutcome {
        if row.event == DisputeEvent::Informational {
            tracing::info!(chargeback = %row.chargeback_id, action = %row.action, "informational chargeback row");
            return RowOutcome::Ignored(format!("action {:?} changes nothing", row.action));
        }
        if let Err(e) = self.record_row(row, now).await {
            return RowOutcome::Failed(format!("recording the row: {e}"));
        }
        if matches!(row.event, DisputeEvent::Won | DisputeEvent::Lost) {
            // An outcome for a dispute never opened here (its row fell outside every window):
            // open it first.
            match self.apply(row, DisputeEvent::Opened, now).await {
                RowOutcome::Applied(_) | RowOutcome::AlreadyDone => {}
                other => return other,
            }
        }
        self.apply(row, row.event, now).await
    }

    /// The conditional put of the row (audit trail; the first sighting is logged).
    async fn record_row(&self, row: &ChargebackRow, now: Timestamp) -> Result<(), StoreError> {
        let record = IdempotencyRecord {
            scope: SCOPE.into(),
            key: format!("{}:{}", row.chargeback_id, row.event.as_str()),
            payload_hash: row.hash.clone(),
            created_at: now,
            expires_at: now.plus(self.settings.remember),
            result: Some(json!({
                "order": row.order_id, "transaction": row.transaction_id,
                "action": row.action, "time": row.time,
            })),
        };
        match self.store.put_idempotency(&record).await? {
            PutOutcome::Created => tracing::info!(
                chargeback = %row.chargeback_id, order = %row.order_id, event = row.event.as_str(),
                reason_code = %row.reason_code, "new chargeback report row"
            ),
            PutOutcome::Exists(r) if r.payload_hash != row.hash => tracing::warn!(
                chargeback = %row.chargeback_id, event = row.event.as_str(),
                "another report row for the same chargeback event (handled as the same dispute)"
            ),
            PutOutcome::Exists(_) => {}
        }
        Ok(())
    }

    /// Apply one event of a chargeback to its order, its ERP record, CRM case and Clarity.
    async fn apply(&self, row: &ChargebackRow, event: DisputeEvent, now: Timestamp) -> RowOutcome {
        let Some(target) = event.target() else {
            return RowOutcome::Ignored("informational".into());
        };
        let marker = row.marker(event);
        for _ in 0..WRITE_ATTEMPTS {
            let record = match self.store.get(&row.order_id).await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    return self.skip(row, format!("order {} not found", row.order_id));
                }
                Err(e) => return RowOutcome::Failed(e.to_string()),
            };
            if record.effects.contains_key(&marker) {
                return RowOutcome::AlreadyDone;
            }
            if !is_order_transaction(&record.order, &row.transaction_id) {
                return self.skip(
                    row,
                    format!(
                        "transaction {} is not the authorization or capture of order {}",
                        row.transaction_id, row.order_id
                    ),
                );
            }
            let known = record
                .order
                .chargebacks
                .iter()
                .any(|c| c.id == row.chargeback_id);
            let transition = match plan(event, record.state, known) {
                Plan::Transition(from) => Some(from),
                Plan::EffectsOnly => None,
                Plan::Skip(why) => return self.skip(row, why),
                Plan::Defer(why) => return RowOutcome::Deferred(why),
            };

            // 3. The domain fact.
            let record = match transition {
                Some(from) => match self
                    .record_fact(&record, row, event, from, target, now)
                    .await
                {
                    Ok(r) => r,
                    Err(StoreError::ConditionFailed { .. }) => continue,
                    Err(e) => return RowOutcome::Failed(e.to_string()),
                },
                None => record,
            };

            // 4. The effects, keyed by the chargeback id.
            let Some(chargeback) = record
                .order
                .chargebacks
                .iter()
                .find(|c| c.id == row.chargeback_id)
                .cloned()
            else {
                return RowOutcome::Failed("chargeback missing after its transition".into());
            };
            let synced = match self
                .effects(&record.order, &chargeback, row, event, target)
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(chargeback = %row.chargeback_id, order = %row.order_id, event = event.as_str(), error = %e, "chargeback effects failed; the next run retries");
                    return RowOutcome::Failed(e);
                }
            };

            // 5. Done marker + linked ids.
            match self
                .record_done(&record, row, event, &marker, &synced, now)
                .await
            {
                Ok(_) => {
                    tracing::info!(chargeback = %row.chargeback_id, order = %row.order_id, event = event.as_str(), state = %target, "chargeback applied");
                    return RowOutcome::Applied(event);
                }
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return RowOutcome::Failed(e.to_string()),
            }
        }
        RowOutcome::Failed(format!(
            "order {} kept changing under {WRITE_ATTEMPTS} attempts",
            row.order_id
        ))
    }

    fn skip(&self, row: &ChargebackRow, why: String) -> RowOutcome {
        tracing::warn!(chargeback = %row.chargeback_id, order = %row.order_id, reason = %why, "chargeback skipped");
        RowOutcome::Skipped(why)
    }

    /// The transition with the chargeback written into the order and one timeline entry.
    async fn record_fact(
        &self,
        record: &OrderRecord,
        row: &ChargebackRow,
        event: DisputeEvent,
        from: OrderState,
        to: OrderState,
        now: Timestamp,
    ) -> Result<OrderRecord, StoreError> {
        let transition =
            Transition::new(from, to).map_err(|e| StoreError::InvalidChange(e.to_string()))?;
        let mut order = record.order.clone();
        match order
            .chargebacks
            .iter_mut()
            .find(|c| c.id == row.chargeback_id)
        {
            Some(c) => c.status = event.status(),
            None => order.chargebacks.push(Chargeback {
                id: row.chargeback_id.clone(),
                external: ExternalIds {
                    cybersource: Some(row.transaction_id.clone()),
                    ..ExternalIds::default()
                },
                amount: row.amount,
                reason_code: row.reason_code.clone(),
                status: event.status(),
                received_at: row.time,
            }),
        }
        let entry = TimelineEntry::new(
            now,
            format!("chargeback.{}", event.as_str()),
            row.reason(event),
        )
        .with_ref(row.transaction_id.clone())
        .with_states(from, to);
        self.store
            .update(
                &row.order_id,
                Expect::StateVersion {
                    state: record.state,
                    version: record.version,
                },
                Change {
                    transition: Some(transition),
                    claim: ClaimChange::Keep,
                    effect: None,
                    order: Some(order),
                    cancel: None,
                    entry,
                },
            )
            .await
    }

    /// ERP record, CRM case and Clarity: idempotent, keyed by the chargeback id.
    async fn effects(
        &self,
        order: &Order,
        chargeback: &Chargeback,
        row: &ChargebackRow,
        event: DisputeEvent,
        target: OrderState,
    ) -> Result<Synced, String> {
        let spec = self
            .specs
            .pinned(order.spec_version.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        let erp_mapping = ErpMapping {
            spec: spec.clone(),
            mask: self.mask,
        };
        let crm_mapping = CrmMapping {
            spec: spec.clone(),
            mask: self.mask,
        };
        let erp = self
            .erp
            .upsert(&chargeback_record(order, chargeback, &erp_mapping).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let case = self
            .crm
            .upsert_case(
                &dispute_case(order, chargeback, Some(&row.notes()), &crm_mapping)
                    .map_err(|e| e.to_string())?,
            )
            .await
            .map_err(|e| e.to_string())?;
        let clarity = self
            .clarity_effect(&spec, order, chargeback, event, target)
            .await?;
        Ok(Synced {
            erp: erp.internal_id,
            crm: case.id,
            clarity,
        })
    }

    /// Clarity: the status of the one table (when `CLARITY_ASSUMED.md` §4.5 allows the move)
    /// with the shopper-safe reason of the one reason table (never the chargeback's reason code, nature or
    /// transaction: those stay on the timeline and in the CRM case), and the dispute in
    /// `metadata` (always).
    async fn clarity_effect(
        &self,
        spec: &o2c_spec::Spec,
        order: &Order,
        chargeback: &Chargeback,
        event: DisputeEvent,
        target: OrderState,
    ) -> Result<String, String> {
        let reason = customer_status_reason(spec, target, None).map_err(|e| e.to_string())?;
        let wanted = clarity_status_for(spec, target).map_err(|e| e.to_string())?;
        let id = order
            .external
            .clarity
            .clone()
            .unwrap_or_else(|| order.id.to_string());
        let metadata: BTreeMap<String, String> = [
            ("disputeId", chargeback.id.to_string()),
            (
                "disputeStatus",
                dispute_status(chargeback.status).to_string(),
            ),
            ("disputeReasonCode", chargeback.reason_code.clone()),
            ("disputeAmount", chargeback.amount.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for _ in 0..3 {
            let current = self
                .clarity
                .get_order(&id)
                .await
                .map_err(|e| e.to_string())?;
            let have = current.value.status;
            let status = wanted.filter(|w| *w != have && clarity_transition_allowed(have, *w));
            let metadata_set = current
                .value
                .metadata
                .as_ref()
                .is_some_and(|m| metadata.iter().all(|(k, v)| m.get(k) == Some(v)));
            if status.is_none() && metadata_set {
                return Ok(describe(have, wanted));
            }
            let patch = OrderPatch {
                status,
                status_reason: status.and(reason.clone()),
                payment: None,
                metadata: Some(metadata.clone()),
            };
            let key = format!(
                "o2c:dispute:{}:{}:v{}",
                chargeback.id,
                event.as_str(),
                current.version
            );
            let key = valid_idempotency_key(&key).then_some(key);
            match self
                .clarity
                .patch_order(&id, &patch, Some(current.version), key.as_deref())
                .await
            {
                Ok(updated) => return Ok(describe(updated.value.status, wanted)),
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(format!("Clarity order {id} kept changing"))
    }

    /// The done marker, with the linked ERP/CRM ids, in one conditional write.
    async fn record_done(
        &self,
        record: &OrderRecord,
        row: &ChargebackRow,
        event: DisputeEvent,
        marker: &str,
        synced: &Synced,
        now: Timestamp,
    ) -> Result<OrderRecord, StoreError> {
        let mut order = record.order.clone();
        if let Some(c) = order
            .chargebacks
            .iter_mut()
            .find(|c| c.id == row.chargeback_id)
        {
            if synced.erp.is_some() {
                c.external.erp.clone_from(&synced.erp);
            }
            if synced.crm.is_some() {
                c.external.crm.clone_from(&synced.crm);
            }
        }
        let erp = synced.erp.as_deref().unwrap_or("-");
        let crm = synced.crm.as_deref().unwrap_or("-");
        let entry = TimelineEntry::new(
            now,
            "chargeback.synced",
            format!(
                "{} {}: NetSuite customerRefund {erp}, Salesforce case {crm}, Clarity {}",
                row.chargeback_id,
                event.as_str(),
                synced.clarity
            ),
        )
        .with_ref(row.chargeback_id.to_string());
        let effect = EffectRecord {
            reference: row.chargeback_id.to_string(),
            outcome: json!({
                "event": event.as_str(), "erp": synced.erp, "crm": synced.crm,
                "clarity": synced.clarity, "action": row.action,
            }),
            at: now,
        };
        self.store
            .update(
                &row.order_id,
                Expect::StateVersion {
                    state: record.state,
                    version: record.version,
                },
                Change {
                    transition: None,
                    claim: ClaimChange::Keep,
                    effect: Some((marker.to_string(), effect)),
                    order: Some(order),
                    cancel: None,
                    entry,
                },
            )
            .await
    }
}

/// What the effects left behind.
struct Synced {
    erp: Option<String>,
    crm: Option<String>,
    clarity: String,
}

fn describe(have: ClarityStatus, wanted: Option<ClarityStatus>) -> String {
    match wanted {
        Some(w) if w == have => have.as_str().to_string(),
        Some(w) => format!(
            "{} (metadata only: Clarity does not allow {} -> {})",
            have.as_str(),
            have.as_str(),
            w.as_str()
        ),
        None => have.as_str().to_string(),
    }
}

/// Is `txn` the order's authorization or capture?
fn is_order_transaction(order: &Order, txn: &str) -> bool {
    order.payment.as_ref().is_some_and(|p| {
        p.external.cybersource.as_deref() == Some(txn) || p.capture_id.as_deref() == Some(txn)
    })
}

/// What to do with an event for an order in `state` (`known`: the order holds this chargeback).
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Transition from this state to the event's target.
    Transition(OrderState),
    /// The transition is recorded; effects (and the marker) are pending.
    EffectsOnly,
    Skip(String),
    Defer(String),
}

fn plan(event: DisputeEvent, state: OrderState, known: bool) -> Plan {
    use DisputeEvent::*;
    use OrderState::*;
    match (event, state) {
        (Opened, Captured | PartiallyRefunded) => Plan::Transition(state),
        (Opened, Disputed | DisputeWon | DisputeLost) if known => Plan::EffectsOnly,
        (Won | Lost, Disputed) if known => Plan::Transition(Disputed),
        (Won, DisputeWon) | (Lost, DisputeLost) if known => Plan::EffectsOnly,
        (Won, DisputeLost) | (Lost, DisputeWon) if known => Plan::Skip(format!(
            "the dispute was already decided as {state}; a later {} needs an operator",
            event.as_str()
        )),
        (_, Disputed | DisputeWon | DisputeLost) => Plan::Skip(format!(
            "order is {state} under another chargeback (one dispute per order)"
        )),
        (_, s) if s.is_in_progress() => Plan::Defer(format!("order is {s}; next run")),
        (_, s) => Plan::Skip(format!("order is {s}: no captured payment to dispute")),
    }
}

/// The run's answer.
#[derive(Default)]
struct Summary {
    applied: Vec<Value>,
    already_done: usize,
    ignored: Vec<Value>,
    skipped: Vec<Value>,
    deferred: Vec<Value>,
    failed: Vec<Value>,
}

impl Summary {
    fn add(&mut self, row: Option<&ChargebackRow>, outcome: &RowOutcome) {
        let item = |extra: Value| {
            let mut v = json!({
                "chargeback": row.map(|r| r.chargeback_id.to_string()),
                "order": row.map(|r| r.order_id.to_string()),
            });
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            v
        };
        match outcome {
            RowOutcome::Applied(e) => self.applied.push(item(json!({"event": e.as_str()}))),
            RowOutcome::AlreadyDone => self.already_done += 1,
            RowOutcome::Ignored(w) => self.ignored.push(item(json!({"reason": w}))),
            RowOutcome::Skipped(w) => self.skipped.push(item(json!({"reason": w}))),
            RowOutcome::Deferred(w) => self.deferred.push(item(json!({"reason": w}))),
            RowOutcome::Failed(w) => self.failed.push(item(json!({"reason": w}))),
        }
    }

    fn into_json(self, window: Window, rows: usize, cursor: Option<Timestamp>) -> Value {
        json!({
            "function": POLLER,
            "window": window.to_json(),
            "cursor": cursor,
            "rows": rows,
            "applied": self.applied,
            "alreadyDone": self.already_done,
            "ignored": self.ignored,
            "skipped": self.skipped,
            "deferred": self.deferred,
            "failed": self.failed,
        })
    }
}
